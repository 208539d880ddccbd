package segment

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Every fact of the catalog has table cases: client facts over a client's
// deals (TestClientFacts, TestRFMBuilderAndFacts), deal facts
// (TestDealFacts), and each with at least one case where it has a value.
func TestEveryFactIsTested(t *testing.T) {
	valued := map[string]bool{}
	seen := map[string]bool{}
	note := func(fact string, v Value) {
		if strings.HasPrefix(fact, FieldPrefix) {
			fact = fieldSpec.name
		}
		seen[fact] = true
		if v.Kind != KindNone {
			valued[fact] = true
		}
	}
	for _, c := range clientFactCases() {
		note(c.fact, c.want)
	}
	for _, c := range dealFactCases() {
		note(c.fact, c.want)
	}
	for _, c := range activityFactCases() {
		note(c.fact, c.want)
	}
	for _, c := range dealActivityCases() {
		note(c.fact, c.want)
	}
	for _, c := range locationFactCases() {
		note(c.fact, c.want)
	}
	for _, c := range listFactCases() {
		note(c.fact, c.want)
	}
	for _, c := range registryFactCases() {
		note(c.fact, c.want)
	}
	for _, c := range rfmFactCases {
		note(c.fact, text("x")) // TestRFMBuilderAndFacts checks scores 0 to 5
	}
	for _, info := range Catalog() {
		if !seen[info.Name] || !valued[info.Name] {
			t.Errorf("fact %s: tested %v, with a value %v", info.Name, seen[info.Name], valued[info.Name])
		}
	}
}

// Every problem the validator can report is the expected result of some
// table case: it appears as Code: CodeX in a Problem literal of a test.
func TestEveryProblemCodeIsTested(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	expected := map[string]bool{}
	for _, name := range files {
		f, err := goparser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "Problem" {
				if lit.Type != nil {
					return true
				}
			}
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
					if v, ok := kv.Value.(*ast.Ident); ok {
						expected[v.Name] = true
					}
				}
			}
			return true
		})
	}
	// The constants' names, from problem.go.
	src, err := goparser.ParseFile(fset, "problem.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := 0
	for _, d := range src.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if strings.HasPrefix(n.Name, "Code") {
					codes++
					if !expected[n.Name] {
						t.Errorf("%s is never the expected problem of a test case", n.Name)
					}
				}
			}
		}
	}
	if codes != len(messages[EN]) {
		t.Errorf("problem.go declares %d codes, messages has %d", codes, len(messages[EN]))
	}
}
