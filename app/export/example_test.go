package export_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/app/export"
	"github.com/axiomops/axiom-audit/storage"
)

// An evidence bundle written from a source and verified offline.
func ExampleWrite() {
	src, _ := export.NewMemSource("example")
	src.Append(storage.Event{ID: "01936b2e-0000-7000-8000-000000000001", Timestamp: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
		OrganizationID: "acme", UserID: "alice", Provider: "aws", ActionType: "user.signed_in",
		ResourceIDs: []string{}, Status: "applied", RiskLevel: "low", Metadata: json.RawMessage(`{}`)})
	out, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(out)

	res, err := export.Write(context.Background(), src, export.Options{Org: "acme", Format: export.CSV, OutDir: out,
		Now: func() time.Time { return time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC) }})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.TrimPrefix(res.Dir, out+"/"), res.Count)
	for _, f := range res.Files {
		fmt.Println(f.Name)
	}
	rep, _ := export.Verify(context.Background(), res.Dir, export.VerifyOptions{})
	fmt.Println("verified:", rep.OK, rep.Events)
	// Output:
	// axiom-audit-export-acme-20261127T010000Z 1
	// events.csv
	// proofs.jsonl
	// checkpoint.txt
	// public-key.txt
	// manifest.json
	// manifest.sig
	// verified: true 1
}

// Cells that a spreadsheet would run as a formula are prefixed with '.
func ExampleEscapeCSVCell() {
	fmt.Println(export.EscapeCSVCell(`=HYPERLINK("http://x")`))
	fmt.Println(export.EscapeCSVCell("-rg"))
	fmt.Println(export.EscapeCSVCell("plain"))
	// Output:
	// '=HYPERLINK("http://x")
	// '-rg
	// plain
}

// CEF extension values escape backslash, equals and line breaks.
func ExampleEscapeCEFValue() {
	fmt.Println(export.EscapeCEFValue("a=b\\c\nd"))
	fmt.Println(export.EscapeCEFHeader("a|b\\c"))
	// Output:
	// a\=b\\c\nd
	// a\|b\\c
}
