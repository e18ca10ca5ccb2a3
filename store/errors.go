package store

import "errors"

// Sentinel errors callers map to responses with errors.Is. They say what
// happened, not which database said it: every backend wraps its own
// errors in these (the SQLite one in classifySQLite).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrFull means the database cannot grow: the disk is full or the
	// configured size limit is reached. Nothing was written.
	ErrFull = errors.New("database full")
	// ErrReadOnly means the database cannot be written.
	ErrReadOnly = errors.New("database is read-only")
	// ErrBusy means the database stayed locked past its wait.
	ErrBusy = errors.New("database busy")
	// ErrRevoked is returned for a token (or a session of one) that was
	// revoked.
	ErrRevoked = errors.New("token revoked")
)

// ValidationError is a value a caller passed that the store refuses
// (a blank token name, an unknown scope). Nothing was written; the web
// layer answers it with 422.
type ValidationError struct {
	Field string // the field at fault, e.g. "name"
	Msg   string // what is wrong, for the person who sent it
}

func (e *ValidationError) Error() string { return e.Msg }
