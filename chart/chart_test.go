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

// Estimated leading days are hatched up to halfway to the first measured
// day, with a dashed border and the label; the svg says how many they are.
func TestStackedHatchesTheEstimatedDays(t *testing.T) {
	labels := make([]string, 30)
	vals := make([]float64, 30)
	for i := range labels {
		labels[i], vals[i] = "d", float64(i)
	}
	c := Stacked{ID: "e", Labels: labels, Series: []Series{{Key: "a", Values: vals}}, Estimated: 20, EstimatedLabel: "Estimated from deal dates"}
	svg := c.SVG()
	var doc struct {
		Estimated int `xml:"data-estimated,attr"`
		G         []struct {
			Class string `xml:"class,attr"`
			Rect  []struct {
				X     float64 `xml:"x,attr"`
				Width float64 `xml:"width,attr"`
				Fill  string  `xml:"fill,attr"`
			} `xml:"rect"`
			Line []struct {
				X float64 `xml:"x1,attr"`
			} `xml:"line"`
			Text string `xml:"text"`
		} `xml:"g"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("%v\n%s", err, svg)
	}
	if doc.Estimated != 20 || len(doc.G) != 2 || doc.G[1].Class != "chart__estimate" {
		t.Fatalf("estimate not drawn: %+v", doc)
	}
	g := doc.G[1]
	step := float64(plotW) / 29
	wantRight := padL + 19.5*step
	if len(g.Rect) != 1 || g.Rect[0].X != padL || math.Abs(g.Rect[0].X+g.Rect[0].Width-wantRight) > 0.1 || g.Rect[0].Fill != "url(#e-hatch)" {
		t.Errorf("hatch %+v, want it to end at %.1f", g.Rect, wantRight)
	}
	if len(g.Line) != 1 || math.Abs(g.Line[0].X-wantRight) > 0.1 || g.Text != "Estimated from deal dates" {
		t.Errorf("border %+v, label %q", g.Line, g.Text)
	}
	// No estimate, no hatch.
	c.Estimated = 0
	if svg := c.SVG(); strings.Contains(svg, "chart__estimate") || !strings.Contains(svg, `data-estimated="0"`) {
		t.Errorf("a chart without estimates is hatched")
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 1: 1, 7: 10, 12: 20, 21: 25, 240: 250, 260: 500, 999: 1000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
