package handlers

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/app/i18n"
	"segmentor/app/segment"
	"segmentor/registry"
)

// RegistryJobs queues a portal's registry lookups (jobs.Queue).
type RegistryJobs interface {
	LookUpCompanies(ctx context.Context, memberID string, full bool) error
	RewriteRegistryFields(ctx context.Context, memberID string) error
}

// RegistryView is the portal's company registry settings as the settings
// page shows them: never the key itself, only whether there is one.
type RegistryView struct {
	Enabled bool `json:"enabled"`
	HasKey  bool `json:"has_key"`
	// DefaultKey: the operator gave a key for portals without one.
	DefaultKey bool              `json:"default_key"`
	WriteBack  map[string]string `json:"write_back"`
	// Values are what can be written back, with their labels; Fields the
	// company text fields they can go to.
	Values []RegistryChoice `json:"values"`
	Fields []RegistryChoice `json:"fields"`
	// Counts are the companies by registry state (app.RegistryState).
	Counts map[app.RegistryState]int `json:"counts"`
	// UsedByRules: a saved segment reads a registry fact.
	UsedByRules bool             `json:"used_by_rules"`
	LastRun     *app.RegistryRun `json:"last_run"`
	// Problem is the last run's problem in the reader's words; "" none.
	Problem string `json:"problem,omitempty"`
}

// RegistryChoice is one option of a picker.
type RegistryChoice struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// GetRegistry answers the registry settings (GET /registry).
func (a *API) GetRegistry(c *gin.Context) {
	sess := sessionOf(c)
	ctx := c.Request.Context()
	v, err := a.registryView(ctx, sess)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(200, v)
}

func (a *API) registryView(ctx context.Context, sess Session) (*RegistryView, error) {
	rs, err := a.Store.RegistrySettings(ctx, sess.MemberID)
	if err != nil {
		return nil, err
	}
	v := &RegistryView{Enabled: rs.Enabled, HasKey: rs.Key != "", DefaultKey: a.RegistryDefaultKey, WriteBack: rs.WriteBack,
		Counts: map[app.RegistryState]int{}}
	if v.WriteBack == nil {
		v.WriteBack = map[string]string{}
	}
	for _, val := range app.WriteBackValues {
		v.Values = append(v.Values, RegistryChoice{ID: val, Name: registryValueLabel(sess.Lang, val)})
	}
	dir, err := a.Store.Directory(ctx, sess.MemberID)
	if err != nil {
		return nil, err
	}
	for _, f := range writableCompanyFields(dir) {
		v.Fields = append(v.Fields, RegistryChoice{ID: f.ID, Name: f.Title})
	}
	if a.Mirror != nil {
		if v.Counts, err = a.Mirror.RegistryCounts(ctx, sess.MemberID); err != nil {
			return nil, err
		}
	}
	if cfg := a.savedConfig(ctx, sess.MemberID); cfg != nil {
		if r, err := segment.Compile(*cfg); err == nil {
			v.UsedByRules = r.UsesRegistry()
		}
	}
	if v.LastRun, err = a.Store.RegistryRun(ctx, sess.MemberID); err != nil {
		return nil, err
	}
	if v.LastRun != nil && v.LastRun.Problem != "" {
		v.Problem = registryProblem(sess.Lang, v.LastRun.Problem)
	}
	return v, nil
}

// writableCompanyFields are the company fields a registry value can be
// written to: the portal's own text fields, one value each.
func writableCompanyFields(dir *app.Directory) []app.Field {
	var out []app.Field
	for _, f := range dir.Fields[string(segment.EntityCompany)] {
		if f.Custom() && f.Type == "string" && !f.Multiple {
			out = append(out, f)
		}
	}
	return out
}

// maxRegistryKey bounds an API key's length: GUS issues 20 characters.
const maxRegistryKey = 64

// PutRegistry saves the registry settings (PUT /registry, administrators):
// enabled, key (absent: kept; "": removed), write_back (registry value →
// company text field). Turning lookups on, or giving another key, reads
// every company's tax ID and looks the companies up, in the background.
func (a *API) PutRegistry(c *gin.Context) {
	sess := sessionOf(c)
	ctx := c.Request.Context()
	var req struct {
		Enabled   *bool             `json:"enabled"`
		Key       *string           `json:"key"`
		WriteBack map[string]string `json:"write_back"`
	}
	if err := decodeBody(c, &req); err != nil {
		apiError(c, sess.Lang, bodyError(sess.Lang, err, "send_registry"))
		return
	}
	rs, err := a.Store.RegistrySettings(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	before := rs
	if req.Enabled != nil {
		rs.Enabled = *req.Enabled
	}
	if req.Key != nil {
		key := strings.TrimSpace(*req.Key)
		if len(key) > maxRegistryKey || strings.IndexFunc(key, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) >= 0 {
			apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "registry_bad_key"))
			return
		}
		rs.Key = key
	}
	if req.WriteBack != nil {
		dir, err := a.Store.Directory(ctx, sess.MemberID)
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		fields := writableCompanyFields(dir)
		wb := map[string]string{}
		for val, field := range req.WriteBack {
			if field == "" {
				continue // not written back
			}
			if !slices.Contains(app.WriteBackValues, val) {
				apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "registry_bad_value", val))
				return
			}
			if !slices.ContainsFunc(fields, func(f app.Field) bool { return f.ID == field }) {
				apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "registry_bad_field", field))
				return
			}
			wb[val] = field
		}
		rs.WriteBack = wb
	}
	if rs.Enabled && rs.Key == "" && !a.RegistryDefaultKey {
		apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "registry_need_key"))
		return
	}
	if err := a.Store.SetRegistrySettings(ctx, sess.MemberID, rs); err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	if rs.Enabled && (!before.Enabled || rs.Key != before.Key) && a.Registry != nil {
		if err := a.Registry.LookUpCompanies(ctx, sess.MemberID, true); err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		_ = a.Store.SetRegistryRun(ctx, sess.MemberID, app.RegistryRun{At: time.Now()}) // a refused key's problem is the old key's
	}
	if rs.Enabled && before.Enabled && !maps.Equal(rs.WriteBack, before.WriteBack) && len(rs.WriteBack) > 0 && a.Registry != nil {
		if err := a.Registry.RewriteRegistryFields(ctx, sess.MemberID); err != nil {
			apiError(c, sess.Lang, err)
			return
		}
	}
	v, err := a.registryView(ctx, sess)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(200, v)
}

// CompanyRegistry is what the card tab shows of a company's registry
// entry, in the reader's words.
type CompanyRegistry struct {
	Title string `json:"title"`
	State string `json:"state"` // app.RegistryState
	TaxID string `json:"tax_id"`
	// Note says where the lookup stands: an invalid NIP, not found, not
	// answered yet.
	Note  string         `json:"note"`
	Lines []RegistryLine `json:"lines,omitempty"`
}

// RegistryLine is one registry value with its label.
type RegistryLine struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// companyRegistry tells a company's registry entry; nil when it has none
// (no Polish tax ID) or lookups are off.
func (a *API) companyRegistry(ctx context.Context, memberID, lang string, id int64) (*CompanyRegistry, error) {
	if a.Mirror == nil {
		return nil, nil
	}
	rs, err := a.Store.RegistrySettings(ctx, memberID)
	if err != nil || !rs.Enabled {
		return nil, err
	}
	e, err := a.Mirror.RegistryEntry(ctx, memberID, id)
	if err != nil || e == nil {
		return nil, err
	}
	sl := segmentLang(lang)
	checked := ""
	if e.Checked > 0 {
		checked = i18n.Date(sl, time.Unix(e.Checked, 0).UTC())
	}
	out := &CompanyRegistry{Title: say(lang, "registry_title"), State: string(e.State), TaxID: e.TaxID}
	switch e.State {
	case app.RegistryInvalid:
		out.Note = say(lang, "registry_invalid", e.TaxID)
	case app.RegistryPending:
		out.Note = say(lang, "registry_pending", e.TaxID)
	case app.RegistryNotFound:
		out.Note = say(lang, "registry_not_found", e.TaxID, checked)
	case app.RegistryUnavailable:
		out.Note = say(lang, "registry_unavailable", e.TaxID)
	case app.RegistryFound:
		out.Note = say(lang, "registry_found", e.NIP, e.REGON, checked)
		w := segment.WordsIn(sl)
		line := func(fact, value string) {
			if value != "" {
				out.Lines = append(out.Lines, RegistryLine{Label: w.Facts[fact], Value: value})
			}
		}
		out.Lines = append(out.Lines, RegistryLine{Label: say(lang, "registry_value_name"), Value: e.Name})
		if f := e.Facts; f != nil {
			line(segment.FactRegistryPKD, f.PKD)
			line(segment.FactRegistryPKDSection, cmp.Or(w.Values[segment.FactRegistryPKDSection][f.PKDSection], f.PKDSection))
			line(segment.FactRegistryRegion, f.Region)
			line(segment.FactRegistryLegalForm, f.LegalForm)
			line(segment.FactRegistryStatus, cmp.Or(w.Values[segment.FactRegistryStatus][string(f.Status)], string(f.Status)))
			if !f.Registered.IsZero() {
				c := registry.Company{Registered: f.Registered}
				age := c.AgeYears(time.Now())
				line(segment.FactRegistryAgeYears, sayN(lang, "registry_since", age, age, i18n.Date(sl, f.Registered)))
			}
		}
	}
	return out, nil
}

// registryValueLabel names a value that can be written back.
func registryValueLabel(lang, value string) string {
	switch value {
	case "name":
		return say(lang, "registry_value_name")
	case "regon":
		return say(lang, "registry_value_regon")
	case "pkd":
		return say(lang, "registry_value_pkd")
	case "pkd_section":
		return say(lang, "registry_value_pkd_section")
	case "region":
		return say(lang, "registry_value_region")
	case "legal_form":
		return say(lang, "registry_value_legal_form")
	case "status":
		return say(lang, "registry_value_status")
	case "registered":
		return say(lang, "registry_value_registered")
	}
	return value
}

// registryProblem says why the last lookups stopped short.
func registryProblem(lang, problem string) string {
	switch problem {
	case app.RegistryKeyRefused:
		return say(lang, "registry_problem_key_refused")
	case app.RegistryNoKey:
		return say(lang, "registry_problem_no_key")
	case app.RegistryDown:
		return say(lang, "registry_problem_unavailable")
	}
	return problem
}
