package report_test

import (
	"fmt"

	"github.com/axiomops/axiom-audit/app/report"
)

func ExampleParsePeriod() {
	for _, s := range []string{"2026-Q3", "2026-09", "2026-07-01..2026-09-30", "2026-07-01T08:00:00Z..2026-07-02T08:00:00Z"} {
		p, err := report.ParsePeriod(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: %s to %s, %d days\n", p.Label, p.Since.Format("2006-01-02T15:04Z"), p.Until.Format("2006-01-02T15:04Z"), p.Days())
	}
	_, err := report.ParsePeriod("2026-Q5")
	fmt.Println(err)
	// Output:
	// 2026-Q3: 2026-07-01T00:00Z to 2026-10-01T00:00Z, 92 days
	// 2026-09: 2026-09-01T00:00Z to 2026-10-01T00:00Z, 30 days
	// 2026-07-01..2026-09-30: 2026-07-01T00:00Z to 2026-10-01T00:00Z, 92 days
	// 2026-07-01T08:00:00Z..2026-07-02T08:00:00Z: 2026-07-01T08:00Z to 2026-07-02T08:00Z, 1 days
	// invalid period: "2026-Q5" is not a quarter, a month or a range (use 2026-Q3, 2026-09, or FROM..TO with dates such as 2026-07-01..2026-09-30 or RFC 3339 times)
}
