package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"unicode"

	"idletrace/intake"
)

// uploadErrorText is the message recorded on an upload whose ingest
// failed: what the client would be told, or a summary for internal errors.
func uploadErrorText(err error) string {
	if ae := classify(err); ae.status != http.StatusInternalServerError {
		return ae.msg
	}
	return "ingest stopped: " + errorSummary(err)
}

func errorSummary(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "it took too long"
	}
	return "a server error (see the server log)"
}

// spoolPattern names spooled uploads in the temp dir (sweepStaleSpools
// removes those no live server holds).
const spoolPattern = "idletrace-upload-*"

// spool copies r to a new temp file in dir and returns it as an intake
// input (its size is what was copied) whose Release removes the file.
// While spooled, the file is locked (lockSpool), so that a server starting
// after a crash tells it from the leftovers it may delete. A full disk is
// reported as such (classify: 507).
func spool(dir string, r io.Reader) (intake.Input, error) {
	f, err := os.CreateTemp(dir, spoolPattern)
	if err != nil {
		return intake.Input{}, fmt.Errorf("spool upload: %w", err)
	}
	lockSpool(f)
	n, err := spoolCopy(f, r)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return intake.Input{}, fmt.Errorf("spool upload: %w", err)
	}
	return intake.Input{R: f, Size: n, Release: func() { f.Close(); os.Remove(f.Name()) }}, nil
}

// spoolCopy copies an upload to its temp file (a variable: tests make the
// disk full).
var spoolCopy = io.Copy

// cleanFileName turns a client-supplied file name into a label: the base
// name only (either slash), no control characters, at most 200 runes. It is
// never used as a path.
func cleanFileName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	if rs := []rune(name); len(rs) > 200 {
		name = string(rs[:200])
	}
	if name == "" || name == "." || name == "/" {
		name = "upload"
	}
	return name
}

// fileStem is the name without its extension: the default computer name of
// an Event Viewer CSV export.
func fileStem(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}
