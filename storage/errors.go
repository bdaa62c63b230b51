package storage

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test them with errors.Is; the app maps each to a
// stable error code for the frontend and the REST API.
var (
	// ErrInvalidEvent: an event failed validation. The concrete error is a
	// *ValidationError naming each field and reason.
	ErrInvalidEvent = errors.New("invalid event")
	// ErrConflict: an event id was already recorded with different content.
	ErrConflict = errors.New("event id already recorded with different content")
	// ErrNotFound: no such event (or organization) in scope.
	ErrNotFound = errors.New("not found")
	// ErrKeychainUnavailable: the OS keychain is missing or locked.
	ErrKeychainUnavailable = errors.New("keychain unavailable")
	// ErrKeyNotFound: the keystore holds no secret under that name.
	ErrKeyNotFound = errors.New("key not found in keystore")
	// ErrWrongKey: the key in the keystore does not open this database.
	ErrWrongKey = errors.New("wrong key for this database")
	// ErrTampered: stored data does not match its hashes or signatures.
	ErrTampered = errors.New("log tampered")
	// ErrIntegrityAlert: the log refuses appends until the alert is acknowledged.
	ErrIntegrityAlert = errors.New("integrity alert: appends refused")
	// ErrLocked: another process (the desktop app) has the database open.
	ErrLocked = errors.New("audit log in use by another process")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrDiskFull: the disk holding the database has too little space left
	// for a commit; nothing was written, and appends succeed again once
	// space is freed.
	ErrDiskFull = errors.New("disk full")
	// ErrRemoved: the database's files were removed or replaced while the
	// store had them open; it refuses appends until reopened.
	ErrRemoved = errors.New("audit log files removed while open")
	// ErrInvalidFilter: a query's filter cannot be used; the concrete error
	// is a *FilterError naming the field.
	ErrInvalidFilter = errors.New("invalid filter")
	// ErrBatchTooLarge: one Append's events do not fit in one atomic
	// commit; nothing was written, and smaller batches will be.
	ErrBatchTooLarge = errors.New("batch too large for one atomic commit")
)

// ConflictError is the error of an Append whose event Index (in the
// batch) has an id already recorded with different content. Nothing of
// the batch was written. It matches ErrConflict with errors.Is.
type ConflictError struct {
	Index          int
	ID             string
	OrganizationID string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("event %d: id %q of organization %q: %v", e.Index, e.ID, e.OrganizationID, ErrConflict)
}

func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// FilterError names the field of a Filter that cannot be used and why. It
// matches ErrInvalidFilter with errors.Is.
type FilterError struct {
	Field  string // the Filter field: "Org", "UserIDs", ...
	Reason string
}

func (e *FilterError) Error() string        { return "filter: " + e.Field + ": " + e.Reason }
func (e *FilterError) Is(target error) bool { return target == ErrInvalidFilter }

// FieldError is one validation problem: the JSON path of the field and why.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidationError lists every problem found in one event. It matches
// ErrInvalidEvent with errors.Is.
type ValidationError struct {
	Index  int // position of the event in the appended batch
	Errors []FieldError
	// Unreadable: the input could not be read as an event at all (not a
	// JSON object, not JSON, too long), so no field of it was checked.
	Unreadable bool
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Error()
	}
	return fmt.Sprintf("invalid event %d: %s", e.Index, strings.Join(parts, "; "))
}

func (e *ValidationError) Is(target error) bool { return target == ErrInvalidEvent }

// LockedError is Open's answer when another process has the database
// open. It matches ErrLocked, and says so in its own words.
type LockedError struct{ Dir string }

func (e *LockedError) Error() string {
	return fmt.Sprintf("the audit log in %s is open in another process (the desktop app, serve, or another axiom-audit command such as export or sync run-now)", e.Dir)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }
