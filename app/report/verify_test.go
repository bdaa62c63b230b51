package report

import (
	"fmt"
	"path"
	"strings"
	"testing"
)

func TestParseSums(t *testing.T) {
	h := strings.Repeat("ab", 32)
	lines, problems := ParseSums([]byte(h + "  report.html\n" + h + "  evidence/events.jsonl\n" +
		h + " report.json\n" + strings.ToUpper(h) + "  x\n" + h + "  ../outside\n" + h + "  /abs\n" + h + "  a/./b\n" + h + "  report.html\n" + h + "  ..\n"))
	if len(lines) != 2 || lines[0].Name != "report.html" || lines[1].Name != "evidence/events.jsonl" {
		t.Errorf("lines %+v", lines)
	}
	var at []int
	for _, p := range problems {
		at = append(at, p.Line)
	}
	if fmt.Sprint(at) != "[3 4 5 6 7 8 9]" {
		t.Errorf("problems at lines %v: %v", at, problems)
	}
}

// FuzzParseSums: every line ParseSums takes is one sha256sum writes, of a
// clean relative path inside the folder, named once; nothing else.
func FuzzParseSums(f *testing.F) {
	h := strings.Repeat("0f", 32)
	f.Add([]byte(h + "  report.html\n" + h + "  evidence/manifest.json\n"))
	f.Add([]byte(h + "  ../x\n"))
	f.Add([]byte(h + "  a\r\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, _ := ParseSums(b)
		seen := map[string]bool{}
		for _, l := range lines {
			inside := !path.IsAbs(l.Name) && path.Clean(l.Name) == l.Name && l.Name != ".." && !strings.HasPrefix(l.Name, "../")
			if !strings.Contains(string(b), l.SHA256+"  "+l.Name) || !inside || seen[l.Name] {
				t.Fatalf("ParseSums took %+v from %q", l, b)
			}
			seen[l.Name] = true
		}
	})
}
