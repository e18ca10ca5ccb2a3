package probe

import (
	"errors"
	"io"
)

// How a probe connection ended (Connection.End).
const (
	EndAlive   = "alive"   // answered after its idle time
	EndReset   = "reset"   // a TCP reset (RST) ended it
	EndClosed  = "closed"  // an orderly close (FIN, EOF) ended it
	EndSilent  = "silent"  // no answer within the silent window
	EndSkipped = "skipped" // not used: a shorter idle time already died, or the probe was stopped
	EndError   = "error"   // could not be opened or failed in another way; not evidence
)

// Drop kinds (Result.Drop).
const (
	DropReset  = "reset"  // the path ends idle connections with a reset or close
	DropSilent = "silent" // the path forgets idle connections without telling anyone
	DropNone   = "none"   // every connection survived up to the longest idle time
)

// endOf classifies the error that ended a connection.
func endOf(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return EndClosed
	case isReset(err):
		return EndReset
	}
	return EndError
}

// isReset reports an RST from the far end, whichever way the operating
// system words it (a write after a reset gives EPIPE on Unix).
func isReset(err error) bool {
	for _, e := range resetErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// dead reports whether an end is evidence that the path killed the connection.
func dead(end string) bool { return end == EndReset || end == EndClosed || end == EndSilent }
