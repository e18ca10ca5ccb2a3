package ingest

import (
	"fmt"
	"slices"
	"strings"
)

// NothingReadError reports an input in a recognised format of which not
// one record could be read: every item was rejected (or every chunk was
// damaged). It unwraps to a *FormatError with the same message, so callers
// that only know FormatError treat it as unreadable input.
type NothingReadError struct {
	// Format is the detected format, as in Result.Format.
	Format string
	// Rejected counts the warnings the read gave (items rejected, damage).
	Rejected int
	// Reasons are the first few of those warnings.
	Reasons []Warning
}

// maxReasons is how many warnings a NothingReadError quotes.
const maxReasons = 3

func newNothingReadError(res *Result) *NothingReadError {
	return &NothingReadError{
		Format:   res.Format,
		Rejected: len(res.Warnings),
		Reasons:  slices.Clone(res.Warnings[:min(len(res.Warnings), maxReasons)]),
	}
}

func (e *NothingReadError) Error() string {
	var b strings.Builder
	if e.Format != "" {
		b.WriteString(e.Format)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "no record could be read (%d %s)", e.Rejected, plural(e.Rejected, "problem", "problems"))
	for i, w := range e.Reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		w.File = "" // the caller names the file
		b.WriteString(w.String())
	}
	if e.Rejected > len(e.Reasons) {
		b.WriteString("; …")
	}
	return b.String()
}

// Unwrap returns the error as a *FormatError.
func (e *NothingReadError) Unwrap() error {
	return &FormatError{Msg: e.Error()}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// tally counts what the records of an input look like: by channel, and
// how many come from Outlook. It feeds Result.LooksLike.
type tally struct {
	records      int
	outlook      int            // provider Outlook, Application channel
	connectivity int            // of those, events 25 and 26
	channels     map[string]int // by lower-case channel name
	names        map[string]string
}

func (t *tally) add(e *Event) {
	t.records++
	if e.IsOutlook() {
		t.outlook++
		if e.IsConnectivity() {
			t.connectivity++
		}
	}
	if e.Channel == "" {
		return
	}
	if t.channels == nil {
		t.channels, t.names = map[string]int{}, map[string]string{}
	}
	k := strings.ToLower(e.Channel)
	if _, ok := t.names[k]; !ok {
		if len(t.names) >= 64 {
			k = "" // many channels: the rest count as unknown
		} else {
			t.names[k] = e.Channel
		}
	}
	t.channels[k]++
}

func (t *tally) merge(o *tally) {
	t.records += o.records
	t.outlook += o.outlook
	t.connectivity += o.connectivity
	for k, n := range o.channels {
		if t.channels == nil {
			t.channels, t.names = map[string]int{}, map[string]string{}
		}
		if _, ok := t.names[k]; !ok {
			t.names[k] = o.names[k]
		}
		t.channels[k] += n
	}
}

// looksLike says what an input without any Outlook event looks like, from
// the records seen: "" when Outlook events are there or nothing was seen.
func (t *tally) looksLike() string {
	if t.records == 0 || t.outlook > 0 {
		return ""
	}
	type ch struct {
		name string
		n    int
	}
	var chans []ch
	known := 0
	for k, n := range t.channels {
		if k != "" {
			chans = append(chans, ch{t.names[k], n})
			known += n
		}
	}
	slices.SortFunc(chans, func(a, b ch) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.name, b.name)
	})
	const tail = "Outlook events are in the Application log"
	switch {
	case known == 0:
		return fmt.Sprintf("none of its %d records comes from Outlook; %s", t.records, tail)
	case strings.EqualFold(chans[0].name, ChannelApplication):
		return "this Application log holds no event from Outlook: export the Application log of a computer where Outlook runs"
	case len(chans) == 1 || chans[1].n*10 < known:
		return fmt.Sprintf("this is the %s log; %s", chans[0].name, tail)
	}
	return fmt.Sprintf("these are %s and %s events; %s", chans[0].name, chans[1].name, tail)
}
