package chart

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"
)

// The chart is well-formed SVG that carries each series' values (gaps
// empty), names itself for screen readers, escapes what it is given, and
// draws a gap as a gap: a lone day between gaps is a bar, a run a path.
func TestStackedDrawsTheSeriesWithGaps(t *testing.T) {
	nan := math.NaN()
	c := Stacked{ID: "t", Title: "Contacts <by segment>", Desc: "VIP: 2 → 3.", Labels: []string{"1 Dec", "2 Dec", "3 Dec", "4 Dec", "5 Dec"},
		Series: []Series{
			{Key: "vip", Name: "VIP & co", Color: "#d4380d", Values: []float64{2, nan, 2, 3, 3}},
			{Key: "rest", Name: "Rest", Values: []float64{8, nan, 9, 9, 10}},
		}}
	svg := c.SVG()
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not XML: %v\n%s", err, svg)
	}
	var doc struct {
		Title string `xml:"title"`
		Desc  string `xml:"desc"`
		Role  string `xml:"role,attr"`
		G     []struct {
			Key    string `xml:"data-key,attr"`
			Values string `xml:"data-values,attr"`
			Fill   string `xml:"fill,attr"`
			Paths  []struct {
				D string `xml:"d,attr"`
			} `xml:"path"`
			Rects []struct{} `xml:"rect"`
		} `xml:"g"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Title != "Contacts <by segment>" || doc.Desc != "VIP: 2 → 3." || doc.Role != "img" || len(doc.G) != 2 {
		t.Fatalf("chart %+v", doc)
	}
	if g := doc.G[0]; g.Key != "vip" || g.Values != "2,,2,3,3" || g.Fill != "#d4380d" || len(g.Rects) != 1 || len(g.Paths) != 1 {
		t.Errorf("vip: %+v", g)
	}
	// The second band is stacked on the first and takes a palette colour.
	if g := doc.G[1]; g.Values != "8,,9,9,10" || g.Fill == "" || !strings.HasPrefix(g.Paths[0].D, "M") {
		t.Errorf("rest: %+v", g)
	}
	if !strings.Contains(svg, "1 Dec") || !strings.Contains(svg, "5 Dec") {
		t.Errorf("the first and last days are not labelled: %s", svg)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 1: 1, 7: 10, 12: 20, 21: 25, 240: 250, 260: 500, 999: 1000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
