package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/axiomops/axiom-audit/storage"
)

// Stable error codes of the REST API and the frontend. They never change
// meaning; new ones may be added.
const (
	CodeInvalidRequest      = "invalid_request"
	CodeInvalidEvent        = "invalid_event"
	CodeInvalidCursor       = "invalid_cursor"
	CodeNotFound            = "not_found"
	CodeConflict            = "conflict"
	CodeUnauthorized        = "unauthorized"
	CodeForbidden           = "forbidden"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeTooLarge            = "request_too_large"
	CodeKeychainUnavailable = "keychain_unavailable"
	CodeKeyMissing          = "key_missing"
	CodeWrongKey            = "wrong_key"
	CodeIntegrityAlert      = "integrity_alert"
	CodeTampered            = "tampered"
	CodeUnavailable         = "unavailable"
	CodeCancelled           = "cancelled"
	CodeInternal            = "internal"
	CodePruned              = "pruned" // retention removed the event; its tombstone remains
)

// ErrorCode maps an error to its stable code and HTTP status.
func ErrorCode(err error) (code string, status int) {
	var re *RequestError
	switch {
	case errors.As(err, &re):
		return CodeInvalidRequest, http.StatusBadRequest
	case errors.Is(err, storage.ErrInvalidEvent):
		return CodeInvalidEvent, http.StatusUnprocessableEntity
	case errors.Is(err, storage.ErrBadCursor):
		return CodeInvalidCursor, http.StatusBadRequest
	case errors.Is(err, storage.ErrInvalidPolicy), errors.Is(err, storage.ErrInvalidFilter):
		return CodeInvalidRequest, http.StatusBadRequest
	case errors.Is(err, storage.ErrPruned):
		return CodePruned, http.StatusGone
	case errors.Is(err, storage.ErrNotFound):
		return CodeNotFound, http.StatusNotFound
	case errors.Is(err, storage.ErrConflict):
		return CodeConflict, http.StatusConflict
	case errors.Is(err, storage.ErrKeychainUnavailable):
		return CodeKeychainUnavailable, http.StatusServiceUnavailable
	case errors.Is(err, storage.ErrKeyNotFound):
		return CodeKeyMissing, http.StatusServiceUnavailable
	case errors.Is(err, storage.ErrWrongKey):
		return CodeWrongKey, http.StatusServiceUnavailable
	case errors.Is(err, storage.ErrIntegrityAlert):
		return CodeIntegrityAlert, http.StatusLocked
	case errors.Is(err, storage.ErrTampered):
		return CodeTampered, http.StatusInternalServerError
	case errors.Is(err, storage.ErrDiskFull):
		return CodeDiskFull, http.StatusInsufficientStorage
	case errors.Is(err, storage.ErrBatchTooLarge):
		return CodeTooLarge, http.StatusRequestEntityTooLarge
	case errors.Is(err, storage.ErrClosed), errors.Is(err, storage.ErrRemoved), errors.Is(err, ErrNoStore):
		return CodeUnavailable, http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return CodeCancelled, http.StatusServiceUnavailable
	}
	return CodeInternal, http.StatusInternalServerError
}

// count says n of a thing: "1 event", "2 events" (every noun the command
// line counts takes an s).
func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// explainedError is a message that says in its own words what its
// sentinel means, so it does not end in the sentinel's text as a wrapping
// fmt.Errorf would (": not found").
type explainedError struct {
	msg      string
	sentinel error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.sentinel }

// explained formats a message that is sentinel (errors.Is).
func explained(sentinel error, format string, args ...any) error {
	return &explainedError{msg: fmt.Sprintf(format, args...), sentinel: sentinel}
}

// notFound formats a message that says what was not found, and is
// storage.ErrNotFound.
func notFound(format string, args ...any) error {
	return explained(storage.ErrNotFound, format, args...)
}

// Explain returns the message a person sees for err on the command line,
// or "" when the command has said everything already (an exit status
// alone, as verify's 1 after its list of problems). Store and keystore
// errors already read as sentences that say what to do.
func Explain(err error) string {
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err == nil {
			return ""
		}
		return ee.Err.Error()
	}
	return err.Error()
}

// fieldErrors lists the per-field problems of a validation error, for the
// REST API's error body.
func fieldErrors(err error) []FieldError {
	var ve *storage.ValidationError
	if errors.As(err, &ve) {
		out := make([]FieldError, 0, len(ve.Errors))
		for _, fe := range ve.Errors {
			out = append(out, FieldError{Index: at(ve.Index), Field: fe.Field, Reason: fe.Reason})
		}
		return out
	}
	var re *RequestError
	if errors.As(err, &re) {
		return []FieldError{{Field: re.Field, Reason: re.Reason}}
	}
	var fe *storage.FilterError
	if errors.As(err, &fe) {
		return []FieldError{{Field: filterFields[fe.Field], Reason: fe.Reason}}
	}
	if i, ok := conflictIndex(err); ok {
		return []FieldError{{Index: at(i), Field: "id", Reason: conflictReason}}
	}
	return nil
}

const conflictReason = "is already recorded with different content"

// repeatReason is why an event conflicts with the event of line (or
// index) earlier in the same input: same organization and id, other
// content.
func repeatReason(earlier int) string {
	return fmt.Sprintf("repeats the id of line %d with different content", earlier)
}

// conflictIndex is the position in its batch of the event a conflict error
// names, whether the store or the desktop app's API returned it.
func conflictIndex(err error) (int, bool) {
	var ce *storage.ConflictError
	if errors.As(err, &ce) {
		return ce.Index, true
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.sentinel == storage.ErrConflict && ae.index >= 0 {
		return ae.index, true
	}
	return 0, false
}

// apiError is an error of the desktop app's API read back: its message as
// the API wrote it, matching the sentinel of its code.
type apiError struct {
	msg       string
	sentinel  error
	index     int   // of the (first) conflicting event, or -1
	conflicts []int // of every conflicting event the API named
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.sentinel }

// filterFields name storage.Filter's fields as the API's query parameters
// (and, with "--", the command line's flags) do.
var filterFields = map[string]string{
	"Org": "org", "Order": "order", "Categories": "category", "ActionTypes": "action", "Providers": "provider",
	"UserIDs": "user", "Statuses": "status", "RiskLevels": "risk", "NotCategories": "notCategory",
	"NotActionTypes": "notAction", "NotProviders": "notProvider", "NotUserIDs": "notUser",
	"NotStatuses": "notStatus", "NotRiskLevels": "notRisk", "ResourceID": "resource",
	"ResourceIDPrefix": "resourcePrefix", "Text": "text",
}

// flagError names, in an error about a query parameter, the command-line
// flag that set it.
func flagError(err error) error {
	field, reason := "", ""
	var re *RequestError
	var fe *storage.FilterError
	switch {
	case errors.As(err, &re):
		field, reason = re.Field, re.Reason
	case errors.As(err, &fe):
		field, reason = filterFields[fe.Field], fe.Reason
	default:
		return err
	}
	switch {
	case field == "" || strings.HasPrefix(field, "-"):
		return err
	case field == "resourcePrefix":
		field = "resource"
	case field == "outDir":
		field = "out"
	}
	return &RequestError{Field: "--" + field, Reason: reason}
}
