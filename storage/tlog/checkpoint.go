package tlog

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Checkpoint is the body of a C2SP tlog-checkpoint: which log, how many
// leaves, and the RFC 6962 root of the tree of that size, and when the log
// signed it.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   Hash
	// Time is when the log signed the checkpoint, to the second, in UTC:
	// the extension line "time <RFC 3339>". Zero when the body has no such
	// line (checkpoints signed before Axiom Audit wrote it, and those of
	// exports). With it, a heartbeat (an unchanged tree signed again) is a
	// new signed statement that the log was this size at that time.
	Time time.Time
}

// timeLinePrefix starts the one extension line a checkpoint may carry.
const timeLinePrefix = "time "

// timeLayout is the time line's RFC 3339 form: seconds, in UTC.
const timeLayout = "2006-01-02T15:04:05Z"

// checkTime refuses a time a time line cannot carry.
func checkTime(t time.Time) error {
	if t.Before(time.Unix(0, 0)) || t.Year() > 9999 {
		return fmt.Errorf("%w: time %s is outside 1970-9999", ErrMalformedCheckpoint, t)
	}
	return nil
}

// Origin returns the checkpoint origin of an organization's log:
// "axiom-audit/<installationID>/<organizationID>".
func Origin(installationID, organizationID string) string {
	return "axiom-audit/" + installationID + "/" + organizationID
}

// maxOriginLen bounds origins so a hostile note cannot make us allocate.
const maxOriginLen = 1024

func checkOrigin(origin string) error {
	switch {
	case origin == "":
		return fmt.Errorf("%w: empty origin", ErrMalformedCheckpoint)
	case len(origin) > maxOriginLen:
		return fmt.Errorf("%w: origin longer than %d bytes", ErrMalformedCheckpoint, maxOriginLen)
	case !utf8.ValidString(origin):
		return fmt.Errorf("%w: origin is not valid UTF-8", ErrMalformedCheckpoint)
	case strings.ContainsFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		// Spaces would be legal in C2SP but forbid a note key name with the
		// same text; control characters are illegal in signed notes.
		return fmt.Errorf("%w: origin %q contains spaces or control characters", ErrMalformedCheckpoint, origin)
	}
	return nil
}

// Marshal returns the checkpoint body:
//
//	<origin>\n<size in decimal>\n<root in standard base64>\n
//
// followed, when Time is set, by "time <RFC 3339, seconds, UTC>\n" (Time
// truncated to the second). It fails with ErrMalformedCheckpoint if the
// origin is empty or contains whitespace or control characters, or Time is
// before 1970 or after 9999.
func (c Checkpoint) Marshal() ([]byte, error) {
	if err := checkOrigin(c.Origin); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(c.Root.String())
	b.WriteByte('\n')
	if !c.Time.IsZero() {
		if err := checkTime(c.Time); err != nil {
			return nil, err
		}
		b.WriteString(timeLinePrefix)
		b.WriteString(c.Time.UTC().Format(timeLayout))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// String returns the body, or a description when the origin is invalid.
func (c Checkpoint) String() string {
	b, err := c.Marshal()
	if err != nil {
		return fmt.Sprintf("invalid checkpoint (%v)", err)
	}
	return string(b)
}

// ParseCheckpoint parses a checkpoint body written by Marshal. It is strict:
// three lines, each ending in a newline, and at most the one extension line
// Marshal writes (the time); the size in decimal without sign or leading
// zeros; the root in canonical standard base64 of 32 bytes; the time as
// Marshal writes it. Other extension lines, which C2SP allows, are rejected
// because this log never writes them. Errors wrap ErrMalformedCheckpoint.
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return Checkpoint{}, fmt.Errorf("%w: body does not end with a newline", ErrMalformedCheckpoint)
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if len(lines) != 3 && len(lines) != 4 {
		return Checkpoint{}, fmt.Errorf("%w: body has %d lines, want 3 (origin, size, root) and at most a time line", ErrMalformedCheckpoint, len(lines))
	}
	var signed time.Time
	if len(lines) == 4 {
		var err error
		if signed, err = parseTimeLine(lines[3]); err != nil {
			return Checkpoint{}, err
		}
	}
	if err := checkOrigin(lines[0]); err != nil {
		return Checkpoint{}, err
	}
	size, err := parseSize(lines[1])
	if err != nil {
		return Checkpoint{}, err
	}
	root, err := ParseHash(lines[2])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: root: %v", ErrMalformedCheckpoint, err)
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root, Time: signed}, nil
}

// parseTimeLine parses the time extension line, exactly as Marshal writes
// it.
func parseTimeLine(line string) (time.Time, error) {
	v, ok := strings.CutPrefix(line, timeLinePrefix)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: extension line %.40q is not %q followed by a time", ErrMalformedCheckpoint, line, timeLinePrefix)
	}
	t, err := time.Parse(timeLayout, v)
	if err != nil || t.Format(timeLayout) != v {
		return time.Time{}, fmt.Errorf("%w: time %.40q is not RFC 3339 in UTC to the second (like 2026-01-02T15:04:05Z)", ErrMalformedCheckpoint, v)
	}
	if err := checkTime(t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

func parseSize(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%w: size %.30q is not a decimal number without leading zeros", ErrMalformedCheckpoint, s)
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: size %.30q is not a decimal number", ErrMalformedCheckpoint, s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: size %q does not fit 64 bits", ErrMalformedCheckpoint, s)
	}
	return n, nil
}

// CheckConsistent checks that next extends prev, using the tree nodes in r:
// the same origin, a size at least as large, and an RFC 6962 consistency proof
// built from r that verifies against both roots. Call it before signing a new
// checkpoint, and on open against the anchored checkpoint. Errors wrap
// ErrWrongOrigin, ErrInconsistent and, when the proof fails, ErrInvalidProof.
func CheckConsistent(ctx context.Context, r NodeReader, prev, next Checkpoint) error {
	if prev.Origin != next.Origin {
		return fmt.Errorf("%w: checkpoint for %q cannot follow one for %q", ErrWrongOrigin, next.Origin, prev.Origin)
	}
	if next.Size < prev.Size {
		return fmt.Errorf("%w: tree size %d is smaller than the earlier %d (truncated or rolled back)", ErrInconsistent, next.Size, prev.Size)
	}
	p, err := ConsistencyProof(ctx, r, prev.Size, next.Size)
	if err != nil {
		return fmt.Errorf("failed to prove tree size %d consistent with %d: %w", next.Size, prev.Size, err)
	}
	if err := VerifyConsistency(prev.Size, next.Size, p, prev.Root, next.Root); err != nil {
		return fmt.Errorf("%w: tree size %d does not extend size %d: %w", ErrInconsistent, next.Size, prev.Size, err)
	}
	return nil
}
