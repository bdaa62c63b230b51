package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// The charts are inline SVG written here, so report.html makes no external
// request and needs no script. Each has a <title> and <desc> for screen
// readers, and its figures are also in a table next to it.

// categoryColors are distinct on screen and in greyscale print.
var categoryColors = map[string]string{
	"connection":       "#1f4e79",
	"scan":             "#4a90c2",
	"finding":          "#9ecae9",
	"recommendation":   "#6a51a3",
	"plan":             "#b39ddb",
	"approval":         "#2e7d32",
	"terraform_export": "#81c784",
	"apply":            "#e65100",
	"rollback":         "#c62828",
	"user":             "#8d6e63",
	"workflow":         "#90a4ae",
	"releaseops":       "#f9a825",
	"audit":            "#37474f",
	"custom":           "#d81b60",
}

// categoryOrder stacks the bars: the product page's order.
var categoryOrder = []string{"connection", "scan", "finding", "recommendation", "plan", "approval", "terraform_export",
	"apply", "rollback", "user", "workflow", "releaseops", "audit", "custom"}

func colorOf(cat string) string {
	if c, ok := categoryColors[cat]; ok {
		return c
	}
	return "#9e9e9e"
}

var riskColors = map[string]string{"low": "#5b9a68", "medium": "#e0a526", "high": "#c0392b"}

type svgBuf struct{ strings.Builder }

func (b *svgBuf) f(format string, args ...any) { fmt.Fprintf(&b.Builder, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

func (b *svgBuf) open(id string, w, h int, title, desc string) {
	b.f(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-t %s-d" font-family="inherit">`, w, h, id, id)
	b.f(`<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, and returns
// the grid step.
func niceMax(v int64) (top, step int64) {
	if v <= 0 {
		return 4, 1
	}
	raw := float64(v) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if s := m * mag; s >= raw {
			step = int64(math.Ceil(s))
			break
		}
	}
	step = max(step, 1)
	top = step * ((v + step - 1) / step)
	return top, step
}

// weeklyChart is a stacked column per week, one colour per category.
func weeklyChart(r *Report) template.HTML {
	const w, h, left, right, top, bottom = 860, 330, 52, 12, 14, 92
	var b svgBuf
	var maxV int64
	var cats []string
	seen := map[string]bool{}
	for _, wk := range r.Weekly {
		maxV = max(maxV, wk.Total)
		for c := range wk.ByCategory {
			seen[c] = true
		}
	}
	for _, c := range categoryOrder {
		if seen[c] {
			cats = append(cats, c)
			delete(seen, c)
		}
	}
	for c := range seen {
		cats = append(cats, c)
	}
	desc := fmt.Sprintf("%d events over %d weeks, stacked by category; the busiest week had %d events.", r.Summary.Events, len(r.Weekly), maxV)
	b.open("chart-weekly", w, h, "Events per week by category", desc)
	topV, step := niceMax(maxV)
	plotW, plotH := float64(w-left-right), float64(h-top-bottom)
	y := func(v int64) float64 { return float64(top) + plotH - plotH*float64(v)/float64(topV) }
	for v := int64(0); v <= topV; v += step {
		b.f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e3e6ea" stroke-width="1"/>`, left, w-right, y(v), y(v))
		b.f(`<text x="%d" y="%.1f" font-size="11" fill="#5f6b7a" text-anchor="end">%d</text>`, left-6, y(v)+4, v)
	}
	n := max(len(r.Weekly), 1)
	slot := plotW / float64(n)
	barW := math.Max(2, slot*0.72)
	labelEvery := int(math.Ceil(float64(n) / 14))
	for i, wk := range r.Weekly {
		x := float64(left) + slot*float64(i) + (slot-barW)/2
		var acc int64
		for _, c := range cats {
			v := wk.ByCategory[c]
			if v == 0 {
				continue
			}
			y0, y1 := y(acc), y(acc+v)
			b.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>week of %s: %d %s</title></rect>`,
				x, y1, barW, y0-y1, colorOf(c), weekLabel(wk.Start), v, esc(c))
			acc += v
		}
		if i%labelEvery == 0 {
			b.f(`<text x="%.1f" y="%d" font-size="11" fill="#5f6b7a" text-anchor="middle">%s</text>`, x+barW/2, h-bottom+16, weekLabel(wk.Start))
		}
	}
	b.f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#8a94a1"/>`, left, w-right, y(0), y(0))
	// Legend, in rows under the axis.
	lx, ly := float64(left), float64(h-bottom+38)
	for _, c := range cats {
		label := strings.ReplaceAll(c, "_", " ")
		width := 22 + 6.6*float64(len(label)) + 16
		if lx+width > float64(w-right) {
			lx, ly = float64(left), ly+20
		}
		b.f(`<rect x="%.1f" y="%.1f" width="12" height="12" rx="2" fill="%s"/>`, lx, ly-10, colorOf(c))
		b.f(`<text x="%.1f" y="%.1f" font-size="11.5" fill="#27313d">%s</text>`, lx+17, ly, esc(label))
		lx += width
	}
	b.f(`</svg>`)
	return template.HTML(b.String())
}

func weekLabel(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Format("Jan 2")
}

type bar struct {
	label string
	value int64
	color string
}

// barChart is one horizontal bar per value, with its count and share.
func barChart(id, title, desc string, bars []bar) template.HTML {
	return barChartSized(id, title, desc, bars, 0, 420, 132)
}

// barChartSized draws bars whose shares are of total (0: of the bars' sum).
func barChartSized(id, title, desc string, bars []bar, total int64, w, left int) template.HTML {
	const right, rowH, top = 70, 34, 8
	h := top*2 + rowH*len(bars)
	var b svgBuf
	b.open(id, w, h, title, desc)
	var maxV, sum int64
	for _, x := range bars {
		maxV = max(maxV, x.value)
		sum += x.value
	}
	if total == 0 {
		total = sum
	}
	plotW := float64(w - left - right)
	for i, x := range bars {
		yy := float64(top + i*rowH)
		b.f(`<text x="%d" y="%.1f" font-size="12.5" fill="#27313d" text-anchor="end">%s</text>`, left-10, yy+rowH/2+4, esc(x.label))
		b.f(`<rect x="%d" y="%.1f" width="%.1f" height="%d" rx="3" fill="#eef1f4"/>`, left, yy+6, plotW, rowH-12)
		bw := 0.0
		if maxV > 0 {
			bw = plotW * float64(x.value) / float64(maxV)
		}
		if x.value > 0 {
			bw = math.Max(bw, 3)
		}
		b.f(`<rect x="%d" y="%.1f" width="%.1f" height="%d" rx="3" fill="%s"/>`, left, yy+6, bw, rowH-12, x.color)
		share := ""
		if total > 0 {
			share = fmt.Sprintf(" (%s)", pct(x.value, total))
		}
		b.f(`<text x="%.1f" y="%.1f" font-size="12" fill="#27313d">%d<tspan fill="#5f6b7a" font-size="11">%s</tspan></text>`, float64(left)+plotW+6, yy+rowH/2+4, x.value, share)
	}
	b.f(`</svg>`)
	return template.HTML(b.String())
}

func pct(v, total int64) string {
	if total == 0 {
		return "0%"
	}
	p := 100 * float64(v) / float64(total)
	if p > 0 && p < 1 {
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", p)
}

func applyChart(r *Report) template.HTML {
	a := r.Changes.ApplyOutcomes
	desc := fmt.Sprintf("Applied %d, applied externally %d, failed %d, rolled back %d.", a.Applied, a.External, a.Failed, a.RolledBack)
	return barChart("chart-applies", "Apply outcomes", desc, []bar{
		{"Applied", a.Applied, "#2e7d32"},
		{"Applied externally", a.External, "#81c784"},
		{"Failed", a.Failed, "#e65100"},
		{"Rolled back", a.RolledBack, "#c62828"},
	})
}

func riskChart(r *Report) template.HTML {
	k := r.Risk
	desc := fmt.Sprintf("Low %d, medium %d, high %d events.", k.Low, k.Medium, k.High)
	return barChart("chart-risk", "Risk distribution", desc, []bar{
		{"Low", k.Low, riskColors["low"]},
		{"Medium", k.Medium, riskColors["medium"]},
		{"High", k.High, riskColors["high"]},
	})
}

// funnelChart shows how far plans got: generated, approved, applied, and
// how many needed a rollback, each as a share of the plans.
func funnelChart(r *Report) template.HTML {
	o := r.Changes.Outcomes
	plans := int64(r.Changes.Plans)
	approved := int64(o["approved"] + o["applied"] + o["applied_externally"] + o["failed"] + o["rolled_back"])
	applied := int64(o["applied"] + o["applied_externally"] + o["failed"] + o["rolled_back"])
	rolled := int64(o["failed"] + o["rolled_back"])
	desc := fmt.Sprintf("%d plans, %d fully approved, %d went to apply, %d needed a rollback.", plans, approved, applied, rolled)
	return barChartSized("chart-funnel", "From plan to apply", desc, []bar{
		{"Plans", plans, "#6a51a3"},
		{"Approved", approved, "#2e7d32"},
		{"Applied", applied, "#1f4e79"},
		{"Rolled back", rolled, "#c62828"},
	}, max(plans, 1), 420, 132)
}

// highRiskChart ranks the action types of the high-risk events.
func highRiskChart(r *Report) template.HTML {
	var bars []bar
	for i, c := range r.HighRisk.ByActionType {
		if i == 12 {
			break
		}
		bars = append(bars, bar{c.Name, c.Count, riskColors["high"]})
	}
	desc := fmt.Sprintf("%d high-risk events across %d action types.", r.HighRisk.Count, len(r.HighRisk.ByActionType))
	return barChartSized("chart-highrisk", "High-risk events by action type", desc, bars, r.HighRisk.Count, 860, 250)
}
