// Package chart draws the settings page's figures as SVG on the server:
// no script library to ship into the portal's iframe or a closed network,
// the same picture in every browser, and a text alternative with each.
// It knows no language: callers pass the labels and texts already worded.
package chart

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Series is one band of a stacked chart: a value per point, NaN where the
// day has no figure (a gap, never drawn as zero).
type Series struct {
	Key    string
	Name   string
	Color  string // "#rrggbb"; a palette colour when empty
	Values []float64
}

// Stacked is a stacked area chart of series over points (days).
type Stacked struct {
	ID     string   // prefix of the element ids (title, desc)
	Title  string   // what the chart shows, read first by a screen reader
	Desc   string   // the figures in a sentence or two: the text alternative
	Labels []string // a label per point, shown under the axis (a few of them)
	Series []Series
	// Format writes an axis value (e.g. thousands separators); nil: %g.
	Format func(float64) string
	// Estimated is how many of the first points are estimates, not
	// measures: they are drawn hatched, under EstimatedLabel.
	Estimated      int
	EstimatedLabel string
}

// palette colours series without a colour of their own: Bitrix24's light
// accents.
var palette = []string{"#2fc6f6", "#9dcf00", "#ffa900", "#ff5752", "#55d0e0", "#a861ab", "#468ee5", "#c3cf00", "#ff8c55", "#8a94a0"}

// PaletteColor is the colour the chart gives the i-th series when it has
// none of its own.
func PaletteColor(i int) string { return palette[i%len(palette)] }

const (
	width, height                  = 640, 240
	padL, padR, padT, padB         = 56, 12, 12, 28
	plotW, plotH                   = width - padL - padR, height - padT - padB
	maxXLabels, yGridLines         = 6, 4
	gapBarWidth            float64 = 4
)

// SVG renders the chart. It scales to its container (viewBox) and keeps
// the data on each series' group (data-key, data-values) so that tests and
// tools read what was drawn.
func (c Stacked) SVG() string {
	n := len(c.Labels)
	format := c.Format
	if format == nil {
		format = func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	}
	// tops[s][i] is the top of series s at point i (the stack so far).
	tops := make([][]float64, len(c.Series))
	maxTotal := 0.0
	present := make([]bool, n)
	for i := range n {
		sum := 0.0
		for s, ser := range c.Series {
			if tops[s] == nil {
				tops[s] = make([]float64, n)
			}
			v := valueAt(ser.Values, i)
			if !math.IsNaN(v) {
				present[i] = true
				sum += v
			}
			tops[s][i] = sum
		}
		maxTotal = max(maxTotal, sum)
	}
	top := niceCeil(maxTotal)
	x := func(i int) float64 {
		if n <= 1 {
			return padL + plotW/2
		}
		return padL + float64(i)*plotW/float64(n-1)
	}
	y := func(v float64) float64 { return padT + plotH - v/top*plotH }

	var b strings.Builder
	id := html.EscapeString(c.ID)
	estimated := min(max(c.Estimated, 0), n)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" data-points="%d" data-estimated="%d">`, width, height, id, id, n, estimated)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, html.EscapeString(c.Title), id, html.EscapeString(c.Desc))
	// Grid and the value axis.
	for g := 0; g <= yGridLines; g++ {
		v := top * float64(g) / yGridLines
		yy := y(v)
		fmt.Fprintf(&b, `<line class="chart__grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e6e9ec"/>`, padL, width-padR, yy, yy)
		fmt.Fprintf(&b, `<text class="chart__tick" x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#828b95">%s</text>`, padL-6, yy, html.EscapeString(format(v)))
	}
	// The days along the bottom: the first, the last, a few between.
	step := max(1, (n+maxXLabels-1)/maxXLabels)
	for i := 0; i < n; i += step {
		if n-1-i < step/2 && i != 0 && i != n-1 {
			continue // too close to the last label
		}
		b.WriteString(xLabel(x(i), c.Labels[i], i, n))
	}
	if n > 1 && (n-1)%step != 0 {
		b.WriteString(xLabel(x(n-1), c.Labels[n-1], n-1, n))
	}
	// The bands, bottom first; each run of days with figures is one shape.
	for s, ser := range c.Series {
		color := ser.Color
		if color == "" {
			color = PaletteColor(s)
		}
		vals := make([]string, n)
		for i := range n {
			if v := valueAt(ser.Values, i); !math.IsNaN(v) {
				vals[i] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		fmt.Fprintf(&b, `<g class="chart__series" data-key="%s" data-name="%s" data-values="%s" fill="%s">`,
			html.EscapeString(ser.Key), html.EscapeString(ser.Name), strings.Join(vals, ","), html.EscapeString(color))
		fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(ser.Name))
		for lo := 0; lo < n; {
			if !present[lo] {
				lo++
				continue
			}
			hi := lo
			for hi+1 < n && present[hi+1] {
				hi++
			}
			bottom := func(i int) float64 {
				if s == 0 {
					return 0
				}
				return tops[s-1][i]
			}
			if lo == hi {
				// A lone day between gaps: a thin bar.
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x(lo)-gapBarWidth/2, y(tops[s][lo]), gapBarWidth, y(bottom(lo))-y(tops[s][lo]))
			} else {
				var p strings.Builder
				for i := lo; i <= hi; i++ {
					fmt.Fprintf(&p, "%s%.1f %.1f", map[bool]string{true: "M", false: " L"}[i == lo], x(i), y(tops[s][i]))
				}
				for i := hi; i >= lo; i-- {
					fmt.Fprintf(&p, " L%.1f %.1f", x(i), y(bottom(i)))
				}
				fmt.Fprintf(&b, `<path d="%s Z" fill-opacity="0.85"/>`, p.String())
			}
			lo = hi + 1
		}
		b.WriteString(`</g>`)
	}
	if estimated > 0 {
		// A hatch over the estimated days, up to halfway to the first
		// measured one.
		right := float64(width - padR)
		if estimated < n {
			right = (x(estimated-1) + x(estimated)) / 2
		}
		left := float64(padL)
		fmt.Fprintf(&b, `<defs><pattern id="%s-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">`+
			`<rect width="6" height="6" fill="#fff" fill-opacity="0.3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.5" stroke-opacity="0.7"/></pattern></defs>`, id)
		fmt.Fprintf(&b, `<g class="chart__estimate"><rect x="%.1f" y="%d" width="%.1f" height="%d" fill="url(#%s-hatch)"/>`, left, padT, right-left, plotH, id)
		if estimated < n {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#828b95" stroke-dasharray="3 3"/>`, right, right, padT, padT+plotH)
		}
		if c.EstimatedLabel != "" && right-left > 120 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="#525c69">%s</text>`, left+6, padT+14, html.EscapeString(c.EstimatedLabel))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func xLabel(x float64, label string, i, n int) string {
	anchor := "middle"
	switch {
	case i == 0 && n > 1:
		anchor = "start"
	case i == n-1 && n > 1:
		anchor = "end"
	}
	return fmt.Sprintf(`<text class="chart__tick" x="%.1f" y="%d" text-anchor="%s" font-size="11" fill="#828b95">%s</text>`, x, height-8, anchor, html.EscapeString(label))
}

func valueAt(vals []float64, i int) float64 {
	if i >= len(vals) {
		return math.NaN()
	}
	return vals[i]
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten, so the
// axis reads in round steps; at least 1.
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
