package tlog

import (
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// ManifestHeader is the first line of a signed manifest statement: the
// signed note an export bundle carries in manifest.sig, by which the log's
// key vouches for the bundle's manifest (its filter, its event count and
// seq range, and the SHA-256 of every file), so that a bundle cannot lose
// events, or have its filter changed, without its signature failing. The
// body is three lines, each ending in a newline:
//
//	axiom-audit-export-manifest/v1
//	<origin of the organization's log>
//	<SHA-256 of manifest.json with its manifestSha256 zeroed, 64 lowercase hex digits>
//
// Its first line is no log origin and its second no tree size, so no
// statement reads as a checkpoint, nor a checkpoint as a statement.
const ManifestHeader = "axiom-audit-export-manifest/v1"

// ManifestStatement is what a signed manifest statement says.
type ManifestStatement struct {
	Origin string // the log the bundle was exported from
	SHA256 string // the manifest's seal, lowercase hex
}

// Marshal returns the statement's note body.
func (m ManifestStatement) Marshal() ([]byte, error) {
	return marshalStatement(ManifestHeader, "manifest", m.Origin, m.SHA256)
}

// ParseManifestStatement parses a statement body written by Marshal,
// strictly: exactly its three lines.
func ParseManifestStatement(body []byte) (ManifestStatement, error) {
	origin, sum, err := parseStatement(ManifestHeader, "manifest", body)
	return ManifestStatement{Origin: origin, SHA256: sum}, err
}

// marshalStatement is the body of a signed statement: header, origin and
// a SHA-256 (what it is of, for errors), one line each.
func marshalStatement(header, what, origin, sum string) ([]byte, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	if !isLowerHex64(sum) {
		return nil, fmt.Errorf("%w: %s SHA-256 %.80q is not 64 lowercase hex digits", ErrMalformedCheckpoint, what, sum)
	}
	return []byte(header + "\n" + origin + "\n" + sum + "\n"), nil
}

// parseStatement parses a body marshalStatement wrote with header,
// strictly: exactly its three lines.
func parseStatement(header, what string, body []byte) (origin, sum string, err error) {
	lines := strings.SplitAfter(string(body), "\n")
	if len(lines) != 4 || lines[3] != "" {
		return "", "", fmt.Errorf("%w: a %s statement is three lines, each ending in a newline", ErrMalformedCheckpoint, what)
	}
	if lines[0] != header+"\n" {
		return "", "", fmt.Errorf("%w: first line %.60q is not %q", ErrMalformedCheckpoint, strings.TrimSuffix(lines[0], "\n"), header)
	}
	origin, sum = strings.TrimSuffix(lines[1], "\n"), strings.TrimSuffix(lines[2], "\n")
	if err := checkOrigin(origin); err != nil {
		return "", "", err
	}
	if !isLowerHex64(sum) {
		return "", "", fmt.Errorf("%w: %s SHA-256 %.80q is not 64 lowercase hex digits", ErrMalformedCheckpoint, what, sum)
	}
	return origin, sum, nil
}

func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// SignManifest returns the signed note of a manifest statement. As for a
// checkpoint, the signer's key name followed by "/" must prefix the origin.
func SignManifest(m ManifestStatement, signer note.Signer) ([]byte, error) {
	return signStatement(ManifestHeader, "manifest", m.Origin, m.SHA256, signer)
}

// OpenManifest verifies a signed manifest statement against the verifier
// key vkey and the expected origin, with the checks and errors of
// OpenCheckpoint, and returns the statement.
func OpenManifest(noteText []byte, vkey, origin string) (ManifestStatement, error) {
	got, sum, err := openStatement(ManifestHeader, "manifest", noteText, vkey, origin)
	if err != nil {
		return ManifestStatement{}, err
	}
	return ManifestStatement{Origin: got, SHA256: sum}, nil
}

// signStatement signs the statement of header (marshalStatement) with
// signer, whose key name must prefix origin.
func signStatement(header, what, origin, sum string, signer note.Signer) ([]byte, error) {
	body, err := marshalStatement(header, what, origin, sum)
	if err != nil {
		return nil, err
	}
	return signBody(body, origin, signer, "a "+what+" statement")
}

// openStatement verifies a signed statement of header against vkey and
// the expected origin, with the checks and errors of OpenCheckpoint.
func openStatement(header, what string, noteText []byte, vkey, origin string) (gotOrigin, sum string, err error) {
	text, v, err := openNote(noteText, vkey)
	if err != nil {
		return "", "", err
	}
	if gotOrigin, sum, err = parseStatement(header, what, []byte(text)); err != nil {
		return "", "", err
	}
	if err := checkSignedOrigin(gotOrigin, origin, v); err != nil {
		return "", "", err
	}
	return gotOrigin, sum, nil
}
