package export

import (
	"errors"
	"fmt"
)

var (
	// ErrUsage: a bad option (format, organization, directory).
	ErrUsage = errors.New("invalid export request")
	// ErrExists: the bundle's folder name and every name after it (name-2,
	// … name-999) are taken; nothing is overwritten.
	ErrExists = errors.New("the export folder already exists")
	// ErrNotVerified: verify-export found problems.
	ErrNotVerified = errors.New("the export does not verify")
	// ErrMalformed: a bundle file cannot be parsed.
	ErrMalformed = errors.New("malformed bundle file")
)

func errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
