package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseListCSV(t *testing.T) {
	type want struct {
		by      MatchBy
		values  []string
		lines   []int
		invalid []string // line:reason
		dups    int
		err     string // ListFileError code
	}
	tests := []struct {
		name string
		data string
		by   MatchBy
		want want
	}{
		{"one column of e-mails, BOM, CRLF", "\uFEFFAnn@Example.com\r\nbob@example.com \r\n\r\nann@example.COM\r\n", ByAuto,
			want{by: ByEmail, values: []string{"ann@example.com", "bob@example.com"}, lines: []int{1, 2}, dups: 1}},
		{"Excel's semicolons and a header", "Name;E-mail;Phone\nAnn;ann@x.org;+48 600 100 200\n\"Smith; Bob\";\"bob@x.org\";\n", ByAuto,
			want{by: ByEmail, values: []string{"ann@x.org", "bob@x.org"}, lines: []int{2, 3}}},
		{"commas, a quoted comma, the phone column chosen", "name,email,phone\n\"Doe, Jane\",jane@x.org,+7 (495) 123-45-67 доб. 12\n", ByPhone,
			want{by: ByPhone, values: []string{"74951234567"}, lines: []int{2}}},
		{"tabs, ids by header", "ID\tTitle\n12\tAcme\n0012\tAcme again\nx\tBad\n", ByAuto,
			want{by: ByID, values: []string{"12"}, lines: []int{2}, invalid: []string{"4:bad_id"}, dups: 1}},
		{"ids without a header", "5\n7\n5\n", ByAuto, want{by: ByID, values: []string{"5", "7"}, lines: []int{1, 2}, dups: 1}},
		{"phones without a header", "+48 600-100-200\n600100201\nabc\n", ByAuto,
			want{by: ByPhone, values: []string{"48600100200", "600100201"}, lines: []int{1, 2}, invalid: []string{"3:bad_phone"}}},
		{"bad e-mails reported by line", "email\nfine@x.org\nno-at-sign\na@b\nc@@d.org\n", ByAuto,
			want{by: ByEmail, values: []string{"fine@x.org"}, lines: []int{2}, invalid: []string{"3:bad_email", "4:bad_email", "5:bad_email"}}},
		{"a multi-line quoted cell keeps line numbers", "email,note\na@x.org,\"two\nlines\"\nb@x.org,x\n", ByAuto,
			want{by: ByEmail, values: []string{"a@x.org", "b@x.org"}, lines: []int{2, 4}}},
		{"not UTF-8", "caf\xe9@x.org\n", ByAuto, want{err: "not_utf8"}},
		{"empty", "\uFEFF\r\n  \r\n;;\r\n", ByAuto, want{err: "empty"}},
		{"header only", "E-mail\n", ByAuto, want{err: "empty"}},
		{"unknown kind", "a@x.org", MatchBy("fax"), want{err: "bad_by"}},
		{"a header naming nothing known", "Name,Company\nAnn,Acme\n", ByAuto, want{by: ByPhone, invalid: []string{"1:bad_phone", "2:bad_phone"}, err: "empty_ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseListCSV([]byte(tt.data), tt.by)
			if tt.want.err != "" && tt.want.err != "empty_ok" {
				var fe *ListFileError
				if !errors.As(err, &fe) || fe.Code != tt.want.err {
					t.Fatalf("err = %v, want %s", err, tt.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.By != tt.want.by {
				t.Errorf("by = %q, want %q", p.By, tt.want.by)
			}
			var values []string
			var lines []int
			for _, e := range p.Entries {
				values, lines = append(values, e.Value), append(lines, e.Line)
			}
			var invalid []string
			for _, b := range p.Invalid {
				invalid = append(invalid, fmt.Sprintf("%d:%s", b.Line, b.Reason))
			}
			if !slices.Equal(values, tt.want.values) || !slices.Equal(lines, tt.want.lines) ||
				!slices.Equal(invalid, tt.want.invalid) || p.Duplicates != tt.want.dups {
				t.Errorf("got values %q lines %v invalid %q dups %d; want %q %v %q %d",
					values, lines, invalid, p.Duplicates, tt.want.values, tt.want.lines, tt.want.invalid, tt.want.dups)
			}
		})
	}
}

func TestParseListCSVLimits(t *testing.T) {
	var b strings.Builder
	for i := range MaxListRows + 1 {
		fmt.Fprintf(&b, "u%d@x.org\n", i)
	}
	var fe *ListFileError
	if _, err := ParseListCSV([]byte(b.String()), ByAuto); !errors.As(err, &fe) || fe.Code != "too_many_rows" {
		t.Fatalf("%d rows: %v", MaxListRows+1, err)
	}
	big := make([]byte, MaxListBytes+1)
	if _, err := ParseListCSV(big, ByAuto); !errors.As(err, &fe) || fe.Code != "too_large" {
		t.Fatalf("a file over the limit: %v", err)
	}
}

func TestPackIDs(t *testing.T) {
	for _, ids := range [][]int64{nil, {1}, {1, 2, 3, 1000, 1 << 40}, {7, 300, 70000}} {
		got, err := UnpackIDs(PackIDs(ids))
		if err != nil || !slices.Equal(got, ids) && len(ids) > 0 {
			t.Errorf("round trip %v: %v %v", ids, got, err)
		}
	}
	if _, err := UnpackIDs([]byte{0x80}); err == nil {
		t.Error("a truncated varint read without error")
	}
	ids := make([]int64, 100_000)
	for i := range ids {
		ids[i] = int64(i*3 + 1)
	}
	if n := len(PackIDs(ids)); n > 100_000 {
		t.Errorf("100,000 ids 3 apart take %d bytes", n)
	}
}

func TestNewListKey(t *testing.T) {
	taken := map[string]bool{"trade_fair_2026": true}
	for name, want := range map[string]string{
		"Trade fair 2026": "trade_fair_2026_2", "Выставка": "list", "  VIP -- 2026!": "vip_2026", "2026 Expo": "expo",
	} {
		if got := NewListKey(name, func(k string) bool { return taken[k] }); got != want || !listKeyPattern.MatchString(got) {
			t.Errorf("%q → %q, want %q", name, got, want)
		}
	}
}

// FuzzParseListCSV reads arbitrary bytes as an upload: nothing may panic;
// a file read is either a *ListFileError or values that are normalised,
// distinct, of the kind reported, with the line they came from.
func FuzzParseListCSV(f *testing.F) {
	f.Add([]byte("\uFEFFName;E-mail\nAnn;ann@x.org\n"), "")
	f.Add([]byte("id\n1\n2\n"), "id")
	f.Add([]byte("\"a,b\",\"c\"\"d\"\n"), "phone")
	f.Add([]byte("\"unterminated\n"), "")
	f.Add([]byte("a@b.c;;\t,\r\r\n"), "email")
	f.Fuzz(func(t *testing.T, data []byte, by string) {
		p, err := ParseListCSV(data, MatchBy(by))
		if err != nil {
			var fe *ListFileError
			if !errors.As(err, &fe) || fe.Error() == "" {
				t.Fatalf("not a ListFileError: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range p.Entries {
			v, ok := NormalizeListValue(p.By, e.Raw)
			if !ok || v != e.Value || seen[v] || e.Line < 1 || !utf8.ValidString(e.Raw) {
				t.Fatalf("entry %+v (by %s): renormalised %q %v, seen %v", e, p.By, v, ok, seen[v])
			}
			seen[v] = true
		}
		if len(p.Entries)+len(p.Invalid)+p.Duplicates != p.Rows {
			t.Fatalf("rows %d != %d entries + %d invalid + %d duplicates", p.Rows, len(p.Entries), len(p.Invalid), p.Duplicates)
		}
	})
}
