package ingest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Field caps. Names longer than any real one are refused: a computer name
// is a DNS name (at most 253 bytes) or a NetBIOS one (15); channels and
// providers are short identifiers. Messages are cut, not refused: the
// event is still real, and Outlook's are a line or two.
const (
	MaxNameBytes    = 255
	MaxMessageBytes = 32 << 10
)

// checkFields refuses an event whose computer, channel or provider name
// is longer than MaxNameBytes (attacker-controlled text that every page,
// export and analysis would carry) and cuts its message to
// MaxMessageBytes.
func checkFields(ev *Event) error {
	for _, f := range []struct{ name, v string }{{"computer", ev.Computer}, {"channel", ev.Channel}, {"provider", ev.Provider}} {
		if len(f.v) > MaxNameBytes {
			return fmt.Errorf("%s name of %d bytes, longer than the limit of %d", f.name, len(f.v), MaxNameBytes)
		}
	}
	if len(ev.Message) > MaxMessageBytes {
		m := ev.Message[:MaxMessageBytes]
		for len(m) > 0 && !utf8.ValidString(m[len(m)-min(len(m), utf8.UTFMax):]) {
			m = m[:len(m)-1]
		}
		ev.Message = strings.Clone(m) // not the whole message's bytes behind a cut

	}
	return nil
}

// checkedEmit wraps emit so that events failing checkFields are skipped
// and counted; flush adds one warning for them to res.
func checkedEmit(emit EmitFunc, res *Result, file string) (checked EmitFunc, flush func()) {
	skipped := 0
	var first error
	checked = func(ev Event) error {
		if err := checkFields(&ev); err != nil {
			if skipped == 0 {
				first = err
			}
			skipped++
			return nil
		}
		if emit == nil {
			return nil
		}
		return emit(ev)
	}
	flush = func() {
		if skipped > 0 {
			res.warn(Warning{File: file, Msg: fmt.Sprintf("%d event(s) skipped: %v", skipped, first)})
		}
	}
	return checked, flush
}
