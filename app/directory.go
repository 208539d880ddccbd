package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
	"segmentor/bitrix"
)

// Directory is a portal's CRM vocabulary, cached at setup: every directory
// list (Bitrix24's word for crm.status: types, sources, stages, …), the deal
// pipelines with their stages in order, the currencies, each entity's
// fields, its Segment field with the items, and the trade catalogs. It is
// read from the portal in full and parsed once (FetchDirectory), so the
// pickers, the validation and the engine read typed values and spend no
// REST request.
type Directory struct {
	Statuses   []Status                `json:"statuses"`  // every list, each in SORT order
	Pipelines  []segment.Pipeline      `json:"pipelines"` // deal pipelines, stages in order
	Currencies []Currency              `json:"currencies"`
	Fields     map[string][]Field      `json:"fields"`         // by entity (contact, company, deal), by ID
	Segment    map[string]SegmentField `json:"segment_fields"` // by entity
	Catalogs   []Catalog               `json:"catalogs"`
}

// Status is one value of a directory list.
type Status struct {
	List string `json:"list"` // ENTITY_ID: CONTACT_TYPE, SOURCE, DEAL_STAGE_3, …
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Currency is one of the portal's currencies.
type Currency struct {
	Code string `json:"code"`
	Name string `json:"name"`
	Base bool   `json:"base"`
}

// Field is one field of an entity that a condition can read (field:ID).
type Field struct {
	ID         string           `json:"id"`
	Title      string           `json:"title"`
	Type       string           `json:"type"`
	StatusType string           `json:"status_type,omitempty"` // the directory list of a crm_status field
	Multiple   bool             `json:"multiple,omitempty"`
	Items      []segment.Status `json:"items,omitempty"` // an enumeration's values
}

// Custom reports whether the field is a user field (UF_…).
func (f Field) Custom() bool { return strings.HasPrefix(f.ID, "UF_") }

// SegmentField is the app's Segment list field on one entity.
type SegmentField struct {
	ID    int           `json:"id"`
	Items []SegmentItem `json:"items"`
}

// SegmentItem is one value of the Segment field: a segment, by its key.
type SegmentItem struct {
	ID   int    `json:"id"`
	Key  string `json:"key"`  // XML_ID
	Name string `json:"name"` // VALUE
}

// Catalog is one trade catalog's information block; ProductIblock is set
// for an offers catalog (the products it holds variations of).
type Catalog struct {
	Iblock        int `json:"iblock"`
	ProductIblock int `json:"product_iblock,omitempty"`
}

// typeLists maps an entity to the directory list of its Type field.
var typeLists = map[segment.Entity]string{
	segment.EntityContact: "CONTACT_TYPE", segment.EntityCompany: "COMPANY_TYPE", segment.EntityDeal: "DEAL_TYPE",
}

// TypeList is the directory list of an entity's Type field ("" for none).
func TypeList(e segment.Entity) string { return typeLists[e] }

// Values returns one list's values in order.
func (d *Directory) Values(list string) []segment.Status {
	out := []segment.Status{}
	for _, s := range d.Statuses {
		if s.List == list {
			out = append(out, segment.Status{ID: s.ID, Name: s.Name})
		}
	}
	return out
}

// Lists names every list the directory holds, in first-seen order.
func (d *Directory) Lists() []string {
	var out []string
	for _, s := range d.Statuses {
		if !slices.Contains(out, s.List) {
			out = append(out, s.List)
		}
	}
	return out
}

// Types returns an entity's type values.
func (d *Directory) Types(e segment.Entity) []segment.Status { return d.Values(typeLists[e]) }

// TypeName names a type value of an entity; "" when unknown.
func (d *Directory) TypeName(e segment.Entity, id string) string {
	for _, t := range d.Types(e) {
		if t.ID == id {
			return t.Name
		}
	}
	return ""
}

// Vocabulary is what a config may name on this portal, for validation.
func (d *Directory) Vocabulary() segment.Vocabulary {
	v := segment.Vocabulary{Types: map[segment.Entity][]segment.Status{}, Fields: map[segment.Entity][]string{}, Pipelines: d.Pipelines}
	for e := range typeLists {
		v.Types[e] = d.Types(e)
	}
	if len(d.Statuses) > 0 {
		v.Sources = d.Values("SOURCE")
	}
	for e, fields := range d.Fields {
		for _, f := range fields {
			v.Fields[segment.Entity(e)] = append(v.Fields[segment.Entity(e)], f.ID)
		}
	}
	return v
}

// ProductCatalogs lists the information blocks of the product catalogs
// (not their offers catalogs); none when the portal has no trade catalog.
func (d *Directory) ProductCatalogs() []int {
	var out []int
	for _, c := range d.Catalogs {
		if c.ProductIblock == 0 {
			out = append(out, c.Iblock)
		}
	}
	return out
}

// Stage names a deal's pipeline and stage: "Premium: New"; the pipeline's
// name alone when the stage is unknown, "" when the pipeline is.
func (d *Directory) Stage(category int, stage string) string {
	for _, p := range d.Pipelines {
		if p.ID != category {
			continue
		}
		for _, s := range p.Stages {
			if s.ID == stage {
				return p.Name + ": " + s.Name
			}
		}
		return p.Name
	}
	return ""
}

// directoryLists are the directory's lists read in full: a portal has about
// 80 statuses (more with many pipelines), and crm.status.list answers 50 a
// page.
func directoryLists() []bitrix.ListCommand {
	return []bitrix.ListCommand{
		bitrix.Statuses.All("statuses"),
		bitrix.Categories.Of("categories", bitrix.EntityDeal),
		bitrix.Currencies.All("currencies"),
	}
}

// catalogList reads the portal's trade catalogs (scope catalog, admins).
var catalogList = bitrix.Catalog.Catalogs("catalogs")

// FetchDirectory reads a portal's directory in full — every page of the
// status, pipeline and currency lists, the trade catalogs where the portal
// has them, and each entity's field descriptions and Segment field
// (fieldName) — and parses it. Two requests for a usual portal.
func FetchDirectory(ctx context.Context, p *bitrix.PortalClient, entities []string, fieldName string) (*Directory, error) {
	lists := append(directoryLists(), catalogList)
	var extra []bitrix.Command
	for _, e := range entities {
		r := bitrix.RecordsOf(bitrix.Entity(e))
		extra = append(extra, r.Fields("fields_"+e), r.UserFields().Named("segment_field_"+e, fieldName))
	}
	first := append([]bitrix.Command(nil), extra...)
	for _, l := range lists {
		first = append(first, l.FirstPage())
	}
	res, err := p.BatchAll(ctx, first)
	if err != nil {
		return nil, fmt.Errorf("read the directory: %w", err)
	}
	parts := map[string]json.RawMessage{}
	for _, c := range extra {
		if err := res.Err(c.Name); err != nil {
			return nil, fmt.Errorf("read the directory: %s: %w", c.Name, err)
		}
		parts[c.Name] = res.Results[c.Name]
	}
	if err := res.Err(catalogList.Name); err != nil {
		if !NoCatalog(err) {
			return nil, fmt.Errorf("read the directory: %s: %w", catalogList.Name, err)
		}
		// No catalog module, or no catalog scope: products come from
		// crm.product.list, the fallback the docs keep.
		lists = lists[:len(lists)-1]
	}
	pages, err := p.MorePages(ctx, res, lists)
	if err != nil {
		return nil, fmt.Errorf("read the directory: %w", err)
	}
	for _, l := range lists {
		rows, err := json.Marshal(nonNil(pages[l.Name]))
		if err != nil {
			return nil, err
		}
		parts[l.Name] = rows
	}
	return ParseDirectory(parts)
}

// FetchStatuses reads every value of every directory list.
func FetchStatuses(ctx context.Context, p *bitrix.PortalClient) ([]Status, error) {
	pages, _, err := p.ListAll(ctx, directoryLists()[:1])
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(nonNil(pages["statuses"]))
	if err != nil {
		return nil, err
	}
	return parseStatuses(raw)
}

// NoCatalog reports whether err says the portal has no trade catalog the
// app may read: the module is absent (no such method), or the app's token
// lacks the catalog scope or the right to it.
func NoCatalog(err error) bool {
	return bitrix.IsNotFound(err) || bitrix.IsAccessDenied(err)
}

func nonNil(rows []json.RawMessage) []json.RawMessage {
	if rows == nil {
		return []json.RawMessage{}
	}
	return rows
}

// ParseDirectory builds a Directory from the portal's answers, each by the
// name FetchDirectory gives it: "statuses" (crm.status.list rows),
// "categories" (crm.category.list rows), "currencies", "catalogs"
// (catalog.catalog.list rows), "fields_<entity>" (crm.<entity>.fields) and
// "segment_field_<entity>" (crm.<entity>.userfield.list). A part that is
// absent is empty; one that does not parse is an error.
func ParseDirectory(parts map[string]json.RawMessage) (*Directory, error) {
	d := &Directory{Fields: map[string][]Field{}, Segment: map[string]SegmentField{}}
	var err error
	if d.Statuses, err = parseStatuses(parts["statuses"]); err != nil {
		return nil, err
	}
	if d.Pipelines, err = parsePipelines(parts["categories"], d.Statuses); err != nil {
		return nil, err
	}
	if d.Currencies, err = parseCurrencies(parts["currencies"]); err != nil {
		return nil, err
	}
	if d.Catalogs, err = parseCatalogs(parts["catalogs"]); err != nil {
		return nil, err
	}
	for name, raw := range parts {
		switch {
		case strings.HasPrefix(name, "fields_"):
			e := strings.TrimPrefix(name, "fields_")
			if d.Fields[e], err = parseFields(raw, d); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		case strings.HasPrefix(name, "segment_field_"):
			e := strings.TrimPrefix(name, "segment_field_")
			if d.Segment[e], err = ParseSegmentField(raw); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return d, nil
}

// decodePart decodes a part into out; an absent or empty part leaves out
// as it is. PHP sends an empty object as [].
func decodePart(name string, raw json.RawMessage, out any) error {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		if s == "[]" {
			return nil
		}
		return fmt.Errorf("directory %s: %w", name, err)
	}
	return nil
}

func parseStatuses(raw json.RawMessage) ([]Status, error) {
	var rows []struct {
		EntityID string    `json:"ENTITY_ID"`
		StatusID string    `json:"STATUS_ID"`
		Name     string    `json:"NAME"`
		Sort     bitrix.ID `json:"SORT"`
	}
	if err := decodePart("statuses", raw, &rows); err != nil {
		return nil, err
	}
	slices.SortStableFunc(rows, func(a, b struct {
		EntityID string    `json:"ENTITY_ID"`
		StatusID string    `json:"STATUS_ID"`
		Name     string    `json:"NAME"`
		Sort     bitrix.ID `json:"SORT"`
	}) int {
		return cmp.Compare(a.Sort, b.Sort)
	})
	out := make([]Status, 0, len(rows))
	for _, r := range rows {
		out = append(out, Status{List: r.EntityID, ID: r.StatusID, Name: r.Name})
	}
	return out, nil
}

// parsePipelines puts each deal pipeline's stages (DEAL_STAGE for the
// default one, DEAL_STAGE_<id> for the others) in their order.
func parsePipelines(raw json.RawMessage, statuses []Status) ([]segment.Pipeline, error) {
	var cats []struct {
		ID   bitrix.ID `json:"id"`
		Name string    `json:"name"`
	}
	if err := decodePart("categories", raw, &cats); err != nil {
		return nil, err
	}
	out := []segment.Pipeline{}
	for _, c := range cats {
		p := segment.Pipeline{ID: int(c.ID), Name: c.Name}
		list := "DEAL_STAGE"
		if c.ID != 0 {
			list += "_" + c.ID.String()
		}
		for _, s := range statuses {
			if s.List == list {
				p.Stages = append(p.Stages, segment.Status{ID: s.ID, Name: s.Name})
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func parseCurrencies(raw json.RawMessage) ([]Currency, error) {
	var rows []struct {
		Currency string `json:"CURRENCY"`
		FullName string `json:"FULL_NAME"`
		Base     string `json:"BASE"`
	}
	if err := decodePart("currencies", raw, &rows); err != nil {
		return nil, err
	}
	out := make([]Currency, 0, len(rows))
	for _, r := range rows {
		out = append(out, Currency{Code: r.Currency, Name: cmp.Or(r.FullName, r.Currency), Base: r.Base == "Y"})
	}
	return out, nil
}

func parseCatalogs(raw json.RawMessage) ([]Catalog, error) {
	var rows []struct {
		IblockID        bitrix.ID  `json:"iblockId"`
		ProductIblockID *bitrix.ID `json:"productIblockId"`
	}
	if err := decodePart("catalogs", raw, &rows); err != nil {
		return nil, err
	}
	var out []Catalog
	for _, r := range rows {
		if r.IblockID <= 0 {
			continue
		}
		c := Catalog{Iblock: int(r.IblockID)}
		if r.ProductIblockID != nil {
			c.ProductIblock = int(*r.ProductIblockID)
		}
		out = append(out, c)
	}
	return out, nil
}

// parseFields reads crm.<entity>.fields: a field's title is the label the
// CRM's list shows; a pipeline or stage field offers the pipelines' names.
func parseFields(raw json.RawMessage, d *Directory) ([]Field, error) {
	var fields map[string]struct {
		Type       string `json:"type"`
		Title      string `json:"title"`
		ListLabel  string `json:"listLabel"`
		FormLabel  string `json:"formLabel"`
		StatusType string `json:"statusType"`
		IsMultiple bool   `json:"isMultiple"`
		Items      []struct {
			ID    bitrix.ID `json:"ID"`
			Value string    `json:"VALUE"`
		} `json:"items"`
	}
	if err := decodePart("fields", raw, &fields); err != nil {
		return nil, err
	}
	out := make([]Field, 0, len(fields))
	for id, f := range fields {
		fd := Field{ID: id, Title: cmp.Or(f.ListLabel, f.FormLabel, f.Title, id), Type: f.Type,
			StatusType: f.StatusType, Multiple: f.IsMultiple}
		for _, it := range f.Items {
			fd.Items = append(fd.Items, segment.Status{ID: it.ID.String(), Name: it.Value})
		}
		out = append(out, fd)
	}
	slices.SortFunc(out, func(a, b Field) int {
		if a.Custom() != b.Custom() {
			if a.Custom() {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// ParseSegmentField reads crm.<entity>.userfield.list of the Segment field:
// its id and items (empty when the field does not exist yet).
func ParseSegmentField(raw json.RawMessage) (SegmentField, error) {
	var fields []struct {
		ID   bitrix.ID `json:"ID"`
		List []struct {
			ID    bitrix.ID `json:"ID"`
			XMLID string    `json:"XML_ID"`
			Value string    `json:"VALUE"`
		} `json:"LIST"`
	}
	if err := decodePart("segment field", raw, &fields); err != nil || len(fields) == 0 {
		return SegmentField{}, err
	}
	sf := SegmentField{ID: int(fields[0].ID), Items: []SegmentItem{}}
	for _, it := range fields[0].List {
		sf.Items = append(sf.Items, SegmentItem{ID: int(it.ID), Key: it.XMLID, Name: it.Value})
	}
	return sf, nil
}

// Directory returns the portal's cached directory (empty before setup). A
// directory cached by an older version, as raw REST answers, is converted
// on first read.
func (s *Store) Directory(ctx context.Context, memberID string) (*Directory, error) {
	b, err := s.rdb.Get(ctx, portalKey(memberID, "directory")).Bytes()
	if errors.Is(err, redis.Nil) {
		return s.upgradeDirectory(ctx, memberID)
	}
	if err != nil {
		return nil, fmt.Errorf("load the directory of %s: %w", memberID, err)
	}
	d := &Directory{}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("load the directory of %s: %w", memberID, err)
	}
	if d.Fields == nil {
		d.Fields = map[string][]Field{}
	}
	if d.Segment == nil {
		d.Segment = map[string]SegmentField{}
	}
	return d, nil
}

// upgradeDirectory converts the raw answers an older version cached (a
// hash of REST results) into the typed directory.
func (s *Store) upgradeDirectory(ctx context.Context, memberID string) (*Directory, error) {
	old := portalKey(memberID, "reference")
	m, err := s.rdb.HGetAll(ctx, old).Result()
	if err != nil {
		return nil, fmt.Errorf("load the directory of %s: %w", memberID, err)
	}
	parts := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		parts[k] = json.RawMessage(v)
	}
	// It kept crm.category.list's result whole: {"categories": [...]}.
	if raw := strings.TrimSpace(m["categories"]); strings.HasPrefix(raw, "{") {
		var wrapped struct {
			Categories json.RawMessage `json:"categories"`
		}
		if err := json.Unmarshal([]byte(raw), &wrapped); err == nil {
			parts["categories"] = wrapped.Categories
		}
	}
	d, err := ParseDirectory(parts)
	if err != nil {
		return nil, fmt.Errorf("convert the directory of %s: %w", memberID, err)
	}
	if len(m) == 0 {
		return d, nil
	}
	if err := s.SaveDirectory(ctx, memberID, d); err != nil {
		return nil, err
	}
	return d, s.rdb.Del(ctx, old).Err()
}

// SaveDirectory replaces the portal's cached directory.
func (s *Store) SaveDirectory(ctx context.Context, memberID string, d *Directory) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, portalKey(memberID, "directory"), b, 0).Err(); err != nil {
		return fmt.Errorf("save the directory of %s: %w", memberID, err)
	}
	return nil
}

// UpdateDirectory changes the portal's cached directory with fn, retrying
// when another process changed it meanwhile.
func (s *Store) UpdateDirectory(ctx context.Context, memberID string, fn func(d *Directory)) (*Directory, error) {
	key := portalKey(memberID, "directory")
	var out *Directory
	for range 10 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			d, err := s.Directory(ctx, memberID)
			if err != nil {
				return err
			}
			fn(d)
			b, err := json.Marshal(d)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, b, 0)
				return nil
			})
			out = d
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return out, err
		}
	}
	return nil, fmt.Errorf("update the directory of %s: too many concurrent changes", memberID)
}

// Directories changes portals' directories on the portal itself.
type Directories struct {
	Store  *Store
	Bitrix *bitrix.Client
}

var typeIDPattern = regexp.MustCompile(`^[A-Z0-9_]{1,40}$`)

// AddType adds a value to an entity's Type list on the portal
// (crm.status.add) and to the cached directory, so that a segment can set
// it; it returns the entity's types. id is upper-cased and must be 1–40
// Latin capitals, digits or _; name 1–100 characters. An id the list has
// already is a conflict.
func (ds Directories) AddType(ctx context.Context, memberID string, e segment.Entity, id, name string) ([]segment.Status, error) {
	list := typeLists[e]
	id, name = strings.ToUpper(strings.TrimSpace(id)), strings.TrimSpace(name)
	switch {
	case list == "":
		return nil, Errorf(EInvalid, "entity must be contact, company or deal.")
	case !typeIDPattern.MatchString(id):
		return nil, Errorf(EInvalid, "The type code must be 1–40 Latin capitals, digits or _.")
	case name == "" || len([]rune(name)) > 100:
		return nil, Errorf(EInvalid, "The type needs a name of up to 100 characters.")
	}
	dir, err := ds.Store.Directory(ctx, memberID)
	if err != nil {
		return nil, err
	}
	if dir.TypeName(e, id) != "" {
		return nil, Errorf(EConflict, "The type %s already exists.", id)
	}
	p := ds.Bitrix.Portal(memberID)
	if _, err := p.Do(ctx, bitrix.Statuses.Add("add", map[string]any{"ENTITY_ID": list, "STATUS_ID": id, "NAME": name, "SORT": 500}), nil); err != nil {
		return nil, portalRefusal("add the type", err)
	}
	statuses, err := FetchStatuses(ctx, p)
	if err != nil {
		return nil, portalRefusal("read the types", err)
	}
	dir, err = ds.Store.UpdateDirectory(ctx, memberID, func(d *Directory) {
		d.Statuses = statuses
	})
	if err != nil {
		return nil, err
	}
	return dir.Types(e), nil
}

// portalRefusal turns a failed REST call into a domain error: the portal's
// refusal is shown, transport trouble is "try again".
func portalRefusal(what string, err error) error {
	var ae *bitrix.APIError
	if errors.As(err, &ae) && !bitrix.IsTemporary(err) {
		msg := "Bitrix24 refused to " + what
		if ae.Description != "" {
			msg += ": " + ae.Description
		}
		return &Error{Code: EInvalid, Message: msg, Err: err}
	}
	return &Error{Code: EUnavailable, Message: "Bitrix24 did not answer; try again in a minute.", Err: err}
}

// Names are the directory's names for what conditions compare and records
// carry, with the segments of cfg (nil: none), for explanations.
func (d *Directory) Names(cfg *segment.Config) *segment.Names {
	n := &segment.Names{Fields: map[segment.Entity]map[string]string{}, Values: map[segment.Entity]map[string]map[string]string{},
		Segments: map[segment.Entity]map[string]string{}}
	for _, c := range d.Currencies {
		if c.Base {
			n.Currency = c.Code
		}
	}
	named := func(vs []segment.Status) map[string]string {
		m := make(map[string]string, len(vs))
		for _, v := range vs {
			m[v.ID] = v.Name
		}
		return m
	}
	stages, pipes := map[string]string{}, map[string]string{}
	for _, p := range d.Pipelines {
		pipes[strconv.Itoa(p.ID)] = p.Name
		for _, s := range p.Stages {
			stages[s.ID] = s.Name
			if len(d.Pipelines) > 1 {
				stages[s.ID] = p.Name + ": " + s.Name
			}
		}
	}
	for ent := range typeLists {
		n.Fields[ent] = map[string]string{}
		vals := map[string]map[string]string{}
		for _, f := range d.Fields[string(ent)] {
			n.Fields[ent][f.ID] = f.Title
			switch {
			case len(f.Items) > 0:
				vals[f.ID] = named(f.Items)
			case f.StatusType != "":
				vals[f.ID] = named(d.Values(f.StatusType))
			}
		}
		vals["TYPE_ID"] = named(d.Types(ent))
		if ent == segment.EntityCompany {
			vals["COMPANY_TYPE"] = named(d.Types(ent))
		}
		vals["SOURCE_ID"] = named(d.Values("SOURCE"))
		if ent == segment.EntityDeal {
			vals["CATEGORY_ID"], vals["STAGE_ID"] = pipes, stages
		}
		n.Values[ent] = vals
	}
	if cfg != nil {
		for _, s := range cfg.Schemes {
			m := map[string]string{}
			for _, sg := range s.All() {
				m[sg.Key] = sg.Name
			}
			n.Segments[s.Entity] = m
		}
	}
	return n
}
