package segmentor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"segmentor/app/i18n"
)

// The pages' string tables (COMMON in common.js, S.texts({…}) in app.js
// and card.js) have every English key in every language Segmentor speaks,
// and no other, each with the English text's {placeholders} and its
// language's number of plural forms.
func TestPageTextsInEveryLanguage(t *testing.T) {
	tables := 0
	for _, name := range []string{"common.js", "app.js", "card.js"} {
		src, err := fs.ReadFile(Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range tableStart.FindAllStringIndex(string(src), -1) {
			tables++
			p := &jsParser{src: string(src), pos: at[1] - 1}
			v, err := p.value()
			if err != nil {
				t.Fatalf("%s: the table at byte %d: %v", name, at[0], err)
			}
			byLang, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: the table at byte %d is not an object", name, at[0])
			}
			en := flatten(byLang["en"], "")
			if len(en) == 0 {
				t.Fatalf("%s: the table at byte %d has no English texts", name, at[0])
			}
			for l := range byLang {
				if !slices.Contains(i18n.All(), i18n.Lang(l)) {
					t.Errorf("%s: texts in %q, a language Segmentor does not speak", name, l)
				}
			}
			for _, lang := range i18n.All() {
				got := flatten(byLang[string(lang)], "")
				for k, s := range en {
					tr, ok := got[k]
					switch {
					case !ok:
						t.Errorf("%s: %s has no %s", name, lang, k)
					case strings.TrimSpace(tr) == "":
						t.Errorf("%s: %s's %s is empty", name, lang, k)
					default:
						for _, f := range i18n.CheckText(lang, k, s, tr) {
							t.Errorf("%s: %s", name, f)
						}
					}
				}
				for k := range got {
					if _, ok := en[k]; !ok {
						t.Errorf("%s: %s has %s, which English has not", name, lang, k)
					}
				}
			}
		}
	}
	if tables != 3 {
		t.Errorf("found %d string tables, want 3 (common.js, app.js, card.js)", tables)
	}
}

// The parser reads the tables as JavaScript would, and refuses what it
// cannot read rather than skip it.
func TestJSParserReadsWhatThePagesWrite(t *testing.T) {
	p := &jsParser{src: `{ en: { a: 'it\'s', "b": "x\"y", n: { c: 'd' } }, // note
	/* block */ pl: { a: 'to' } }`}
	v, err := p.value()
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(flatten(v, ""))
	if want := `map[en.a:it's en.b:x"y en.n.c:d pl.a:to]`; got != want {
		t.Errorf("parsed %s, want %s", got, want)
	}
	for _, bad := range []string{`{ a: 'open`, `{ a: b }`, `{ a 'x' }`, `{`} {
		if _, err := (&jsParser{src: bad}).value(); err == nil {
			t.Errorf("%q parsed without an error", bad)
		}
	}
}

var tableStart = regexp.MustCompile(`(?:S\.texts\(|var COMMON = )\{`)

// flatten lists an object's texts by their dotted keys ("records.contact").
func flatten(v any, prefix string) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		switch x := x.(type) {
		case string:
			out[prefix+k] = x
		case map[string]any:
			for kk, s := range flatten(x, prefix+k+".") {
				out[kk] = s
			}
		}
	}
	return out
}

// jsParser reads the object literals the pages' tables are written in:
// keys as names or quoted, values as quoted strings or objects, with
// comments between.
type jsParser struct {
	src string
	pos int
}

func (p *jsParser) skip() {
	for p.pos < len(p.src) {
		switch {
		case unicode.IsSpace(rune(p.src[p.pos])):
			p.pos++
		case strings.HasPrefix(p.src[p.pos:], "//"):
			if i := strings.IndexByte(p.src[p.pos:], '\n'); i >= 0 {
				p.pos += i + 1
			} else {
				p.pos = len(p.src)
			}
		case strings.HasPrefix(p.src[p.pos:], "/*"):
			if i := strings.Index(p.src[p.pos+2:], "*/"); i >= 0 {
				p.pos += i + 4
			} else {
				p.pos = len(p.src)
			}
		default:
			return
		}
	}
}

func (p *jsParser) fail(what string) error {
	end := min(p.pos+30, len(p.src))
	return fmt.Errorf("%s at %q", what, p.src[p.pos:end])
}

func (p *jsParser) value() (any, error) {
	p.skip()
	if p.pos >= len(p.src) {
		return nil, p.fail("unexpected end")
	}
	switch p.src[p.pos] {
	case '{':
		return p.object()
	case '\'', '"':
		return p.str()
	}
	return nil, p.fail("not a string or an object")
}

func (p *jsParser) object() (map[string]any, error) {
	p.pos++ // {
	out := map[string]any{}
	for {
		p.skip()
		if p.pos >= len(p.src) {
			return nil, p.fail("unclosed object")
		}
		if p.src[p.pos] == '}' {
			p.pos++
			return out, nil
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.fail("no : after " + key)
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, p.fail("duplicate key " + key)
		}
		out[key] = v
		p.skip()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
		}
	}
}

func (p *jsParser) key() (string, error) {
	if c := p.src[p.pos]; c == '\'' || c == '"' {
		return p.str()
	}
	start := p.pos
	for p.pos < len(p.src) && (p.src[p.pos] == '_' || p.src[p.pos] == '$' || unicode.IsLetter(rune(p.src[p.pos])) || unicode.IsDigit(rune(p.src[p.pos]))) {
		p.pos++
	}
	if p.pos == start {
		return "", p.fail("not a key")
	}
	return p.src[start:p.pos], nil
}

// str reads a quoted string with JavaScript's escapes.
func (p *jsParser) str() (string, error) {
	quote := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == quote:
			p.pos++
			return b.String(), nil
		case c == '\n':
			return "", p.fail("a line break in a string")
		case c == '\\' && p.pos+1 < len(p.src):
			e := p.src[p.pos+1]
			p.pos += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if p.pos+4 > len(p.src) {
					return "", p.fail("a short \\u escape")
				}
				r, err := strconv.ParseUint(p.src[p.pos:p.pos+4], 16, 32)
				if err != nil {
					return "", p.fail("a bad \\u escape")
				}
				b.WriteRune(rune(r))
				p.pos += 4
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", p.fail("unclosed string")
}

// Every catalogue of texts in the code (a var of type i18n.Catalog) is
// checked by a test of its package, so that a key missing in a language
// fails a test wherever the catalogue lives.
func TestEveryCatalogueIsChecked(t *testing.T) {
	decl := regexp.MustCompile(`(?m)^var (\w+) = i18n\.Catalog\[`)
	found := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			found++
			tests, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*_test.go"))
			checked := false
			for _, tf := range tests {
				b, err := os.ReadFile(tf)
				if err == nil && strings.Contains(string(b), m[1]+".Check()") {
					checked = true
				}
			}
			if !checked {
				t.Errorf("%s: the catalogue %s is checked by no test of its package (%s.Check())", path, m[1], m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 5 {
		t.Errorf("found %d catalogues: the walk reads too little", found)
	}
}
