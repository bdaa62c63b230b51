package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var reportTemplate string

// printListed is how many high-risk actions the HTML lists.
const printListed = 60

var funcs = template.FuncMap{
	"firstRefs": func(l []EventRef, n int) []EventRef { return l[:min(n, len(l))] },
	"len64":     func(l []EventRef) int64 { return int64(len(l)) },
	"add64":     func(a, b int64) int64 { return a + b },
	"when":      humanTime,
	"short":     shortTime,
	"day":       humanDay,
	"num":       num,
	"pct":       pct,
	"title":     func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"outcome":   outcomeLabel,
	"dur":       duration,
	"rto": func(sec *int64) string {
		if sec == nil {
			return "unknown"
		}
		return duration(*sec)
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"retention": func(c RetentionClass) string {
		if c.Indefinite {
			return "indefinite"
		}
		return fmt.Sprintf("%d days", c.Days)
	},
	"statusClass": func(s string) string { return "st-" + strings.ReplaceAll(s, "_", "-") },
}

var tmpl = template.Must(template.New("report").Funcs(funcs).Parse(reportTemplate))

// view is what the template renders: the report and its charts.
type view struct {
	*Report
	Charts struct {
		Weekly, Applies, Risk, Funnel, HighRisk template.HTML
	}
	Timeline  string // "1 Jul 2026 – 30 Sep 2026"
	MaxListed int
	// PrintListed caps the long event lists in print; report.json has
	// MaxListed of each.
	PrintListed int
}

// WriteHTML renders the report as one self-contained HTML document: inline
// CSS and SVG, no script, no external request.
func WriteHTML(w io.Writer, r *Report) error {
	v := view{Report: r, MaxListed: MaxListed, PrintListed: printListed}
	v.Charts.Weekly = weeklyChart(r)
	v.Charts.Applies = applyChart(r)
	v.Charts.Risk = riskChart(r)
	v.Charts.Funnel = funnelChart(r)
	v.Charts.HighRisk = highRiskChart(r)
	since, _ := time.Parse(time.RFC3339Nano, r.Period.Since)
	until, _ := time.Parse(time.RFC3339Nano, r.Period.Until)
	last := until.Add(-time.Nanosecond)
	if until.Equal(until.Truncate(24*time.Hour)) && since.Equal(since.Truncate(24*time.Hour)) {
		v.Timeline = since.Format("2 Jan 2006") + " – " + last.Format("2 Jan 2006")
	} else {
		v.Timeline = since.Format("2 Jan 2006 15:04 UTC") + " – " + until.Format("2 Jan 2006 15:04 UTC")
	}
	if err := tmpl.Execute(w, v); err != nil {
		return fmt.Errorf("failed to render the report: %w", err)
	}
	return nil
}

func humanTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || s == "" {
		return s
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || s == "" {
		return s
	}
	return t.UTC().Format("2 Jan 15:04")
}

func humanDay(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || s == "" {
		return s
	}
	return t.UTC().Format("2 Jan 2006")
}

// num writes a count with thousands separators.
func num(v any) string {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case *int64:
		if x == nil {
			return "–"
		}
		n = *x
	case uint64:
		n = int64(x)
	default:
		return fmt.Sprint(v)
	}
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func duration(sec int64) string {
	if sec < 0 {
		return "unknown"
	}
	d := time.Duration(sec) * time.Second
	if d < time.Minute {
		return fmt.Sprintf("%ds", sec)
	}
	if d < time.Hour {
		return fmt.Sprintf("%dm %02ds", sec/60, sec%60)
	}
	return fmt.Sprintf("%dh %02dm", sec/3600, sec%3600/60)
}

func outcomeLabel(s string) string {
	switch s {
	case "rolled_back":
		return "rolled back"
	case "applied_externally":
		return "applied externally"
	case "pending_approval":
		return "awaiting approval"
	case "approved":
		return "approved, not applied"
	}
	return s
}
