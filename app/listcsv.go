package app

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A static list's upload: a CSV file as Excel, LibreOffice or a CRM export
// writes it: UTF-8 with or without a byte-order mark, cells separated by
// commas, semicolons (Excel in most of Europe) or tabs, quoted or not; one
// column of values, or a header naming the column of CRM ids, e-mails or
// phones. Values are normalised as the CRM compares them and repeated ones
// counted once; a row that is not a value of its kind is reported with its
// line, never guessed at.

// MatchBy is what an uploaded list's values are.
type MatchBy string

const (
	ByAuto  MatchBy = ""      // read it from the header or the values
	ByID    MatchBy = "id"    // CRM record ids, matched against the mirror
	ByEmail MatchBy = "email" // e-mails, matched by crm.duplicate.findbycomm
	ByPhone MatchBy = "phone" // phones, the same
)

// Limits of an upload.
const (
	MaxListRows  = 100_000
	MaxListBytes = 16 << 20 // 100,000 rows of a CRM export with a few columns
)

// ListEntry is one distinct value of an upload and the first line that
// had it.
type ListEntry struct {
	Line  int    `json:"line"`
	Raw   string `json:"raw"`   // as written
	Value string `json:"value"` // normalised: what is matched
}

// BadRow is a row that holds no value of the list's kind.
type BadRow struct {
	Line   int    `json:"line"`
	Raw    string `json:"raw"`
	Reason string `json:"reason"` // bad_id, bad_email, bad_phone
}

// ParsedList is an upload read and normalised.
type ParsedList struct {
	By         MatchBy
	Column     string // the header of the column read; "" without one
	Entries    []ListEntry
	Invalid    []BadRow
	Duplicates int // rows repeating an earlier row's value
	Rows       int // data rows read, blank ones left out
}

// ListFileError is why an upload cannot be read at all; Code names it for
// the page's words, Line (when not 0) says where.
type ListFileError struct {
	Code string // not_utf8, empty, too_many_rows, too_large, bad_csv, no_column, bad_by
	Line int
	Max  int
}

func (e *ListFileError) Error() string {
	s := "list file: " + e.Code
	if e.Line > 0 {
		s += " at line " + strconv.Itoa(e.Line)
	}
	return s
}

// headerNames are the column titles, lower-cased, that name each kind in
// the languages Segmentor speaks and as CRMs export them.
var headerNames = map[MatchBy][]string{
	ByID:    {"id", "crm id", "contact id", "company id", "record id", "ид", "идентификатор", "id контакта", "id компании", "identyfikator", "id kontaktu", "id firmy", "id contatto", "id azienda"},
	ByEmail: {"email", "e-mail", "e mail", "mail", "email address", "e-mail address", "work e-mail", "adres e-mail", "adres email", "эл. почта", "электронная почта", "почта", "e-mail рабочий", "posta elettronica", "indirizzo email", "indirizzo e-mail"},
	ByPhone: {"phone", "telephone", "phone number", "mobile", "tel", "tel.", "work phone", "телефон", "мобильный", "телефон рабочий", "telefon", "numer telefonu", "tel. komórkowy", "telefono", "cellulare", "numero di telefono"},
}

// ParseListCSV reads an upload. by chooses the kind of values (ByAuto:
// from the header, else from the values). It never panics on any input;
// a file it cannot read is a *ListFileError.
func ParseListCSV(data []byte, by MatchBy) (*ParsedList, error) {
	switch by {
	case ByAuto, ByID, ByEmail, ByPhone:
	default:
		return nil, &ListFileError{Code: "bad_by"}
	}
	if len(data) > MaxListBytes {
		return nil, &ListFileError{Code: "too_large", Max: MaxListBytes}
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		return nil, &ListFileError{Code: "not_utf8"}
	}
	rows, err := readCSV(data)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &ListFileError{Code: "empty"}
	}
	out := &ParsedList{By: by}
	col, header := pickColumn(rows[0].cells, by)
	switch {
	case header != "":
		out.Column = rows[0].cells[col]
		if by == ByAuto {
			out.By = MatchBy(header)
		}
		rows = rows[1:]
	case by == ByAuto:
		col, out.By = guessColumn(rows)
	}
	if col < 0 {
		return nil, &ListFileError{Code: "no_column"}
	}
	if len(rows) > MaxListRows {
		return nil, &ListFileError{Code: "too_many_rows", Max: MaxListRows}
	}
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		raw := ""
		if col < len(r.cells) {
			raw = strings.TrimSpace(r.cells[col])
		}
		if raw == "" {
			continue
		}
		out.Rows++
		v, ok := NormalizeListValue(out.By, raw)
		if !ok {
			out.Invalid = append(out.Invalid, BadRow{Line: r.line, Raw: clip(raw), Reason: "bad_" + string(out.By)})
			continue
		}
		if seen[v] {
			out.Duplicates++
			continue
		}
		seen[v] = true
		out.Entries = append(out.Entries, ListEntry{Line: r.line, Raw: clip(raw), Value: v})
	}
	if out.Rows == 0 {
		return nil, &ListFileError{Code: "empty"}
	}
	return out, nil
}

type csvRow struct {
	line  int
	cells []string
}

// readCSV splits the file into rows, the separator chosen from the first
// line; blank lines are left out.
func readCSV(data []byte) ([]csvRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = separator(data)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = false
	var rows []csvRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			return nil, &ListFileError{Code: "bad_csv", Line: line}
		}
		line, _ := r.FieldPos(0)
		blank := true
		for _, c := range rec {
			if strings.TrimSpace(c) != "" {
				blank = false
				break
			}
		}
		if blank {
			continue
		}
		if len(rows) > MaxListRows+1 {
			return nil, &ListFileError{Code: "too_many_rows", Max: MaxListRows}
		}
		rows = append(rows, csvRow{line: line, cells: rec})
	}
	return rows, nil
}

// separator is the one of ; , and tab the first line that has any has
// most of outside quotes; a comma when none has (a file of one column).
func separator(data []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, c := range string(data) {
		if c == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if c == '\n' || c == '\r' {
			if len(counts) > 0 {
				break
			}
			continue // a blank line before the first row
		}
		if c == ';' || c == ',' || c == '\t' {
			counts[c]++
		}
	}
	best := ','
	for _, c := range []rune{';', '\t', ','} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}

// pickColumn finds in a header row the column of the kind by (any kind for
// ByAuto: e-mail first, the key another system's list most surely shares
// with the CRM, then phone, then id). header is the kind found, "" when
// the row is not a header.
func pickColumn(cells []string, by MatchBy) (col int, header string) {
	kinds := []MatchBy{ByEmail, ByPhone, ByID}
	if by != ByAuto {
		kinds = []MatchBy{by}
	}
	for _, k := range kinds {
		for i, c := range cells {
			name := strings.ToLower(strings.TrimSpace(c))
			for _, h := range headerNames[k] {
				if name == h {
					return i, string(k)
				}
			}
		}
	}
	if by != ByAuto {
		return 0, "" // no header: the first column holds the values
	}
	return -1, ""
}

// guessColumn reads a file without a header: the first column whose first
// value is an e-mail, else the first column, as ids when its first value
// is a number of at most 10 digits and phones otherwise.
func guessColumn(rows []csvRow) (int, MatchBy) {
	first := rows[0].cells
	for i, c := range first {
		if _, ok := NormalizeListValue(ByEmail, c); ok {
			return i, ByEmail
		}
	}
	v := strings.TrimSpace(first[0])
	if _, ok := NormalizeListValue(ByID, v); ok && len(v) <= 10 {
		return 0, ByID
	}
	return 0, ByPhone
}

// NormalizeListValue is a value as the CRM compares it: an id as a plain
// positive number; an e-mail trimmed and lower-cased, as findbycomm
// ignores case; a phone as its digits before any extension (findbycomm
// compares digits and leaves the extension out). ok is
// false when raw is not a value of the kind.
func NormalizeListValue(by MatchBy, raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	switch by {
	case ByID:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 || n > 1<<53 {
			return "", false
		}
		return strconv.FormatInt(n, 10), true
	case ByEmail:
		return normalizeEmail(raw)
	case ByPhone:
		return normalizePhone(raw)
	}
	return "", false
}

func normalizeEmail(raw string) (string, bool) {
	s := strings.ToLower(strings.Trim(raw, " \t<>\"'"))
	s = strings.TrimPrefix(s, "mailto:")
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || len(s) > 254 {
		return "", false
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") {
		return "", false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' || r == ';' {
			return "", false
		}
	}
	return s, true
}

// normalizePhone keeps a phone's digits up to an extension ("ext. 12",
// "доб. 12", "x12", "#12"), as findbycomm compares them: "+48 600-100-200"
// and "48600100200" are one phone. 5 to 15 digits (E.164's most).
func normalizePhone(raw string) (string, bool) {
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case unicode.IsLetter(r) || r == '#' || r == ';' || r == ',' || r == ':':
			if b.Len() > 0 {
				return phoneDigits(b.String())
			}
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '/' || unicode.IsSpace(r):
		default:
			return "", false
		}
	}
	return phoneDigits(b.String())
}

func phoneDigits(d string) (string, bool) {
	if len(d) < 5 || len(d) > 15 {
		return "", false
	}
	return d, true
}

// clip bounds a row as a report shows it.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 200 {
		return s
	}
	return string([]rune(s)[:200]) + "…"
}
