package tlog

import "golang.org/x/mod/sumdb/note"

// ReportHeader is the first line of a signed report statement: the signed
// note a compliance report folder carries in SHA256SUMS.sig, by which the
// log's key vouches for the folder's SHA256SUMS, and so for every file it
// lists (report.html, report.json, report.pdf and the evidence bundle), so
// that a report's figures cannot be changed without its signature
// failing. The body is three lines, each ending in a newline:
//
//	axiom-audit-report-sums/v1
//	<origin of the organization's log>
//	<SHA-256 of SHA256SUMS, 64 lowercase hex digits>
//
// Its header differs from a manifest statement's ([ManifestHeader]), so
// that neither reads as the other, and neither reads as a checkpoint.
const ReportHeader = "axiom-audit-report-sums/v1"

// ReportStatement is what a signed report statement says.
type ReportStatement struct {
	Origin string // the log the report is of
	SHA256 string // the SHA-256 of the report folder's SHA256SUMS, lowercase hex
}

// Marshal returns the statement's note body.
func (r ReportStatement) Marshal() ([]byte, error) {
	return marshalStatement(ReportHeader, "report", r.Origin, r.SHA256)
}

// ParseReportStatement parses a statement body written by Marshal,
// strictly: exactly its three lines.
func ParseReportStatement(body []byte) (ReportStatement, error) {
	origin, sum, err := parseStatement(ReportHeader, "report", body)
	return ReportStatement{Origin: origin, SHA256: sum}, err
}

// SignReport returns the signed note of a report statement, under the
// rules of SignManifest.
func SignReport(r ReportStatement, signer note.Signer) ([]byte, error) {
	return signStatement(ReportHeader, "report", r.Origin, r.SHA256, signer)
}

// OpenReport verifies a signed report statement against the verifier key
// vkey and the expected origin, with the checks and errors of
// OpenManifest, and returns the statement.
func OpenReport(noteText []byte, vkey, origin string) (ReportStatement, error) {
	got, sum, err := openStatement(ReportHeader, "report", noteText, vkey, origin)
	if err != nil {
		return ReportStatement{}, err
	}
	return ReportStatement{Origin: got, SHA256: sum}, nil
}
