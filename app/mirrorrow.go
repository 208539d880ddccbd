package app

import (
	"cmp"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"segmentor/app/segment"
)

// A mirror row is stored packed, not as JSON: a bit mask of the fields
// present, then each present field as a varint or a length-prefixed
// string, in a fixed order. The record's id is the hash field's name and
// its title is kept apart (mirror.go), so a typical deal packs into about
// fifty bytes, under the 64 bytes a value may have in Redis's compact
// listpack encoding (hash-max-listpack-value).

// Bits of a deal row's mask. The first two hold the stage semantic, the
// next twelve the fields nearly every deal has, so a usual mask is two
// varint bytes.
const (
	dealSemantic   = 3 // two bits: 0 none, 1 P, 2 S, 3 F (rowSemantics)
	dealCompany    = 1 << 2
	dealContacts   = 1 << 3
	dealCategory   = 1 << 4
	dealStage      = 1 << 5
	dealAmount     = 1 << 6
	dealCurrency   = 1 << 7
	dealCreated    = 1 << 8
	dealClosed     = 1 << 9
	dealType       = 1 << 10
	dealSegment    = 1 << 11
	dealKey        = 1 << 12
	dealOwnStage   = 1 << 13 // the stage without its pipeline's "C<category>:"
	dealOtherSem   = 1 << 14 // a semantic other than P, S or F, as text
	dealSections   = 1 << 15
	dealFields     = 1 << 16
	clientType     = 1 << 0
	clientSegment  = 1 << 1
	clientKey      = 1 << 2
	clientFields   = 1 << 3
	clientLocation = 1 << 4
)

// wellKnown are words of Bitrix24's own vocabulary that rows hold over and
// over: stage, type, source and currency ids and field names. A row writes
// one of them as a one-byte code, any other string as its length and
// bytes (appendWord). Codes are positions here: append, never reorder.
var wellKnown = []string{
	// deal stages, without a pipeline's "C<n>:"
	"NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE", "WON", "LOSE", "APOLOGY",
	// deal, contact and company types
	"SALE", "COMPLEX", "GOODS", "SERVICES", "SERVICE", "CLIENT", "SUPPLIER", "PARTNER", "COMPETITOR", "JOURNALIST",
	"RESELLER", "CUSTOMER", "OTHER",
	// sources
	"CALL", "EMAIL", "WEB", "ADVERTISING", "RECOMMENDATION", "TRADE_SHOW", "WEBFORM", "CALLBACK", "RC_GENERATOR",
	"STORE", "SELF", "REPEAT_SALE",
	// currencies
	"RUB", "USD", "EUR", "UAH", "KZT", "BYN", "PLN", "GBP", "CNY", "CHF", "CZK", "TRY",
	// field names
	"SOURCE_ID", "TYPE_ID", "COMPANY_TYPE", "INDUSTRY", "ASSIGNED_BY_ID", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN",
	"OPENED", "IS_RETURN_CUSTOMER", "IS_REPEATED_APPROACH", "Y", "N",
}

var wellKnownCode = func() map[string]uint64 {
	m := make(map[string]uint64, len(wellKnown))
	for i, w := range wellKnown {
		m[w] = uint64(i)
	}
	return m
}()

// stagePrefix is how a pipeline's stage ids begin ("C3:WON" in pipeline 3).
func stagePrefix(category int) string { return "C" + strconv.Itoa(category) + ":" }

var rowSemantics = []string{"", "P", "S", "F"}

// An amount with fewer than amountText decimal places is packed as an
// integer; the scale amountText says the amount follows as text.
const amountText = 7

var errShortRow = errors.New("mirror row: truncated")

// encodeDeal packs a deal's row without its id and title.
func encodeDeal(d *MirrorDeal) string {
	buf := make([]byte, 0, 64)
	var mask uint64
	sem := slices.Index(rowSemantics, d.Semantic)
	switch {
	case sem > 0:
		mask |= uint64(sem)
	case d.Semantic != "":
		mask |= dealOtherSem
	}
	set := func(bit uint64, on bool) {
		if on {
			mask |= bit
		}
	}
	set(dealCompany, d.CompanyID != 0)
	set(dealContacts, len(d.ContactIDs) > 0)
	set(dealCategory, d.CategoryID != 0)
	stage := d.StageID
	if d.CategoryID != 0 {
		if rest, ok := strings.CutPrefix(stage, stagePrefix(d.CategoryID)); ok {
			stage = rest
			mask |= dealOwnStage
		}
	}
	set(dealStage, stage != "" || mask&dealOwnStage != 0)
	set(dealAmount, d.Amount != "")
	set(dealCurrency, d.Currency != "")
	set(dealCreated, d.Created != 0)
	set(dealClosed, d.Closed != 0)
	set(dealType, d.TypeID != "")
	set(dealSegment, d.Segment != 0)
	set(dealKey, d.Key != "")
	set(dealSections, len(d.Sections) > 0)
	set(dealFields, len(d.Fields) > 0)
	buf = binary.AppendUvarint(buf, mask)
	if mask&dealCompany != 0 {
		buf = binary.AppendVarint(buf, d.CompanyID)
	}
	if mask&dealContacts != 0 {
		buf = binary.AppendUvarint(buf, uint64(len(d.ContactIDs)))
		for _, id := range d.ContactIDs {
			buf = binary.AppendVarint(buf, id)
		}
	}
	if mask&dealCategory != 0 {
		buf = binary.AppendVarint(buf, int64(d.CategoryID))
	}
	if mask&dealStage != 0 {
		buf = appendWord(buf, stage)
	}
	if mask&dealAmount != 0 {
		buf = appendAmount(buf, d.Amount)
	}
	if mask&dealCurrency != 0 {
		buf = appendWord(buf, d.Currency)
	}
	if mask&dealCreated != 0 {
		buf = binary.AppendVarint(buf, d.Created)
	}
	if mask&dealClosed != 0 {
		buf = binary.AppendVarint(buf, d.Closed-d.Created) // a few weeks after creation: three or four bytes
	}
	if mask&dealType != 0 {
		buf = appendWord(buf, d.TypeID)
	}
	if mask&dealSegment != 0 {
		buf = binary.AppendVarint(buf, int64(d.Segment))
	}
	if mask&dealKey != 0 {
		buf = appendWord(buf, d.Key)
	}
	if mask&dealOtherSem != 0 {
		buf = appendWord(buf, d.Semantic)
	}
	if mask&dealSections != 0 {
		buf = binary.AppendUvarint(buf, uint64(len(d.Sections)))
		for _, s := range d.Sections {
			buf = binary.AppendVarint(buf, int64(s))
		}
	}
	if mask&dealFields != 0 {
		buf = appendFields(buf, d.Fields)
	}
	return string(buf)
}

// decodeDeal unpacks a row written by encodeDeal into d, whose ID and
// Title the caller sets.
func decodeDeal(s string, d *MirrorDeal) error {
	r := rowReader{b: s}
	mask := r.uvarint()
	if sem := mask & dealSemantic; sem != 0 {
		d.Semantic = rowSemantics[sem]
	}
	if mask&dealCompany != 0 {
		d.CompanyID = r.varint()
	}
	if mask&dealContacts != 0 {
		n := r.count()
		d.ContactIDs = make([]int64, n)
		for i := range n {
			d.ContactIDs[i] = r.varint()
		}
	}
	if mask&dealCategory != 0 {
		d.CategoryID = int(r.varint())
	}
	if mask&dealStage != 0 {
		d.StageID = r.string()
		if mask&dealOwnStage != 0 {
			d.StageID = stagePrefix(d.CategoryID) + d.StageID
		}
	}
	if mask&dealAmount != 0 {
		d.Amount = r.amount()
	}
	if mask&dealCurrency != 0 {
		d.Currency = r.string()
	}
	if mask&dealCreated != 0 {
		d.Created = r.varint()
	}
	if mask&dealClosed != 0 {
		d.Closed = d.Created + r.varint()
	}
	if mask&dealType != 0 {
		d.TypeID = r.string()
	}
	if mask&dealSegment != 0 {
		d.Segment = int(r.varint())
	}
	if mask&dealKey != 0 {
		d.Key = r.string()
	}
	if mask&dealOtherSem != 0 {
		d.Semantic = r.string()
	}
	if mask&dealSections != 0 {
		n := r.count()
		d.Sections = make([]int, n)
		for i := range n {
			d.Sections[i] = int(r.varint())
		}
	}
	if mask&dealFields != 0 {
		d.Fields = r.fields()
	}
	return r.err
}

// encodeClient packs a contact's or company's row without its id and
// title.
func encodeClient(c *MirrorClient) string {
	buf := make([]byte, 0, 48)
	var mask uint64
	if c.TypeID != "" {
		mask |= clientType
	}
	if c.Segment != 0 {
		mask |= clientSegment
	}
	if c.Key != "" {
		mask |= clientKey
	}
	if len(c.Fields) > 0 {
		mask |= clientFields
	}
	if c.Own != nil {
		mask |= clientLocation
	}
	buf = binary.AppendUvarint(buf, mask)
	if mask&clientType != 0 {
		buf = appendWord(buf, c.TypeID)
	}
	if mask&clientSegment != 0 {
		buf = binary.AppendVarint(buf, int64(c.Segment))
	}
	if mask&clientKey != 0 {
		buf = appendWord(buf, c.Key)
	}
	if mask&clientFields != 0 {
		buf = appendFields(buf, c.Fields)
	}
	if c.Own != nil {
		for _, s := range []string{c.Own.Country, c.Own.Region, c.Own.City, c.Own.Postal} {
			buf = appendWord(buf, s)
		}
	}
	return string(buf)
}

// decodeClient unpacks a row written by encodeClient into c, whose ID and
// Title the caller sets.
func decodeClient(s string, c *MirrorClient) error {
	r := rowReader{b: s}
	mask := r.uvarint()
	if mask&clientType != 0 {
		c.TypeID = r.string()
	}
	if mask&clientSegment != 0 {
		c.Segment = int(r.varint())
	}
	if mask&clientKey != 0 {
		c.Key = r.string()
	}
	if mask&clientFields != 0 {
		c.Fields = r.fields()
	}
	if mask&clientLocation != 0 {
		c.Own = &segment.Location{Country: r.string(), Region: r.string(), City: r.string(), Postal: r.string()}
	}
	return r.err
}

// appendWord writes a well-known word as its code (odd), any other string
// as its length (even) and bytes.
func appendWord(buf []byte, s string) []byte {
	if c, ok := wellKnownCode[s]; ok {
		return binary.AppendUvarint(buf, c<<1|1)
	}
	buf = binary.AppendUvarint(buf, uint64(len(s))<<1)
	return append(buf, s...)
}

// appendFields packs rule fields by name, so equal maps pack alike.
func appendFields(buf []byte, f map[string]string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(f)))
	for _, k := range slices.Sorted(maps.Keys(f)) {
		buf = appendWord(buf, k)
		buf = appendWord(buf, f[k])
	}
	return buf
}

// appendAmount packs an amount as its digits and decimal places (one
// varint: "12345.50" is 1234550·8+2) when that gives back the very text,
// else as text after the scale amountText.
func appendAmount(buf []byte, s string) []byte {
	if d, err := decimal.NewFromString(s); err == nil {
		scale := -d.Exponent()
		if c := d.Coefficient(); scale >= 0 && scale < amountText && c.IsInt64() {
			v := c.Int64()
			if v > -1<<58 && v < 1<<58 && amountOf(v, scale) == s {
				return binary.AppendVarint(buf, v*8+int64(scale))
			}
		}
	}
	buf = binary.AppendVarint(buf, amountText)
	return appendWord(buf, s)
}

// amountOf writes v·10^-scale with exactly scale decimal places.
func amountOf(v int64, scale int32) string {
	return decimal.New(v, -scale).StringFixed(scale)
}

// rowReader reads a packed row; the first error sticks and later reads
// give zero values.
type rowReader struct {
	b   string
	err error
}

func (r *rowReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var v uint64
	var s uint
	for i := 0; i < len(r.b) && i < binary.MaxVarintLen64; i++ {
		c := r.b[i]
		if c < 0x80 {
			r.b = r.b[i+1:]
			return v | uint64(c)<<s
		}
		v |= uint64(c&0x7f) << s
		s += 7
	}
	r.err = errShortRow
	return 0
}

func (r *rowReader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a list's length, no longer than the bytes left could hold.
func (r *rowReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errShortRow
		return 0
	}
	return int(n)
}

// string reads what appendWord wrote.
func (r *rowReader) string() string {
	h := r.uvarint()
	if h&1 != 0 {
		if h>>1 >= uint64(len(wellKnown)) {
			r.err = errors.New("mirror row: unknown word")
			return ""
		}
		return wellKnown[h>>1]
	}
	n := h >> 1
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = cmp.Or(r.err, errShortRow)
		return ""
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *rowReader) fields() map[string]string {
	n := r.count()
	f := make(map[string]string, n)
	for range n {
		k := r.string()
		f[k] = r.string()
	}
	return f
}

func (r *rowReader) amount() string {
	v := r.varint()
	scale := v & 7 // the non-negative remainder, also of a negative amount
	if scale == amountText {
		return r.string()
	}
	return amountOf((v-scale)/8, int32(scale))
}

// packDealIDs packs a client's deal ids, sorted, as the increase over the
// previous one in varints: 15 deals spread over a million ids take about
// forty bytes. indexScript writes the same encoding.
func packDealIDs(ids []int64) string {
	buf := make([]byte, 0, 2*len(ids))
	var prev int64
	for _, id := range ids {
		buf = binary.AppendUvarint(buf, uint64(id-prev))
		prev = id
	}
	return string(buf)
}

// unpackDealIDs reads a list packed by packDealIDs (or indexScript).
func unpackDealIDs(s string) ([]int64, error) {
	r := rowReader{b: s}
	out := make([]int64, 0, len(s))
	var id int64
	for len(r.b) > 0 && r.err == nil {
		id += int64(r.uvarint())
		out = append(out, id)
	}
	if r.err != nil {
		return nil, errors.New("mirror index: bad deal list")
	}
	return out, nil
}

func parseID(s string) int64 {
	id, _ := strconv.ParseInt(s, 10, 64)
	return id
}
