package handlers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"segmentor/app/i18n"
)

// Every handler catalogue has every text in every language, with the
// English text's format verbs and its language's plural forms.
func TestHandlerTextsInEveryLanguage(t *testing.T) {
	for name, faults := range map[string][]string{
		"texts": texts.Check(), "apiTexts": apiTexts.Check(), "installTexts": installTexts.Check(), "listTexts": listTexts.Check(),
	} {
		for _, f := range faults {
			t.Errorf("%s: %s", name, f)
		}
	}
}

// textKeyArg is, per function that takes a key of texts, which argument
// it is.
var textKeyArg = map[string]int{"say": 1, "sayN": 1, "userError": 2, "bodyError": 2}

// Every key the handlers name is in texts: a call with a key that is not
// would show the key itself. A key built as "prefix_"+entity must exist
// for every record type.
func TestHandlersNameOnlyKnownTexts(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn, ok := call.Fun.(*ast.Ident)
			if !ok {
				return true
			}
			i, ok := textKeyArg[fn.Name]
			if !ok || len(call.Args) <= i {
				return true
			}
			var keys []string
			switch a := call.Args[i].(type) {
			case *ast.Ident: // a key passed on: checked where it is named
				return true
			case *ast.BasicLit:
				k, _ := strconv.Unquote(a.Value)
				keys = []string{k}
			case *ast.BinaryExpr: // "unseen_gone_" + what
				if lit, ok := a.X.(*ast.BasicLit); ok {
					prefix, _ := strconv.Unquote(lit.Value)
					for _, e := range []string{"contact", "company", "deal"} {
						keys = append(keys, prefix+e)
					}
				}
			}
			if keys == nil {
				t.Errorf("%s: %s's key is not a string literal", fset.Position(call.Pos()), fn.Name)
			}
			for _, k := range keys {
				seen++
				if texts[i18n.EN][k] == "" {
					t.Errorf("%s: %s(%q): no such text", fset.Position(call.Pos()), fn.Name, k)
				}
			}
			return true
		})
	}
	if seen < 40 {
		t.Errorf("found %d keys in the handlers' calls: the check reads too little", seen)
	}
}

// A language Segmentor speaks reads its own texts; any other reads
// English; a counted text takes its form from the count.
func TestSayPicksTheLanguageAndForm(t *testing.T) {
	for _, c := range []struct {
		lang, want string
	}{
		{"pl", "Nie ma takiego segmentu."}, {"it", "Questo segmento non esiste."}, {"ru", "Такого сегмента нет."},
		{"en", "There is no such segment."}, {"de", "There is no such segment."}, {"", "There is no such segment."},
	} {
		if got := say(c.lang, "no_such_segment"); got != c.want {
			t.Errorf("say(%q) = %q, want %q", c.lang, got, c.want)
		}
	}
	for _, c := range []struct {
		lang string
		n    int
		want string
	}{
		{"pl", 1, "Kontakty według segmentów, ostatni 1 dzień"}, {"pl", 30, "Kontakty według segmentów, ostatnie 30 dni"},
		{"ru", 22, "Контакты по сегментам, последние 22 дня"}, {"it", 90, "Contatti per segmento, ultimi 90 giorni"},
		{"en", 1, "Contacts by segment, last 1 day"},
	} {
		if got := sayN(c.lang, "trend_title", c.n, say(c.lang, "contacts"), c.n); got != c.want {
			t.Errorf("sayN(%s, %d) = %q, want %q", c.lang, c.n, got, c.want)
		}
	}
	if got := say("pl", "no_such_key"); got != "no_such_key" {
		t.Errorf("an unknown key reads %q", got)
	}
}
