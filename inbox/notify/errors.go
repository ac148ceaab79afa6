package notify

import "errors"

// Sentinel errors.
var (
	// ErrNilDB is returned when a nil *gorm.DB is passed.
	ErrNilDB = errors.New("notify: nil *gorm.DB")
	// ErrInvalidQuery is returned for a Query that cannot be run (no
	// recipient, a limit out of range).
	ErrInvalidQuery = errors.New("notify: invalid query")
	// ErrInvalidCursor is returned for an After that List did not make.
	ErrInvalidCursor = errors.New("notify: invalid cursor")
	// ErrNotFound is returned (wrapped) for a notification that does not
	// exist or is not the recipient's.
	ErrNotFound = errors.New("notify: notification not found")
)
