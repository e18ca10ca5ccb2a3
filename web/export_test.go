package web

import "io"

// SetSpoolCopyForTest replaces how uploads are copied to their temp file
// (to make the disk full) until the returned func is called.
func SetSpoolCopyForTest(copyFn func(io.Writer, io.Reader) (int64, error)) (restore func()) {
	old := spoolCopy
	spoolCopy = copyFn
	return func() { spoolCopy = old }
}
