// Package ingest turns every supported input format (.evtx, wevtutil XML,
// Event Viewer CSV, shipper JSON/NDJSON, zip of those) into normalized
// events. It never imports store or web, and it never panics on bad input:
// damaged data yields every recoverable record plus warnings.
package ingest

import (
	"fmt"
	"strings"
	"time"
)

// Event is one normalized Windows event record.
type Event struct {
	// Computer is the name as the event carries it (e.g. "HQ-PC01.corp.example").
	Computer string
	// Channel is the log name, e.g. "Application".
	Channel string
	// Provider is the event source, e.g. "Outlook".
	Provider string
	// EventID is the low 16 bits of the (legacy) event id.
	EventID int
	// Qualifiers is the upper 16 bits of a classic event id, -1 when absent.
	Qualifiers int
	// Level is the numeric level (4 = Information), 0 when unknown.
	Level int
	// RecordID is the EventRecordID, 0 when the source carries none (CSV).
	RecordID int64
	// Time is when the event was created, in UTC.
	Time time.Time
	// Precision is the resolution of Time in the source: 100ns for EVTX and
	// XML, 1s for CSV and several shipper formats.
	Precision time.Duration
	// Message is the rendered message or the joined insertion strings.
	Message string
}

// Channel and provider names idletrace cares about.
const (
	ChannelApplication = "Application"
	ProviderOutlook    = "Outlook"
)

// IsOutlook reports whether e comes from provider Outlook in the Application
// channel. Names are compared case-insensitively; message text is never used.
func (e *Event) IsOutlook() bool {
	return strings.EqualFold(e.Channel, ChannelApplication) && strings.EqualFold(e.Provider, ProviderOutlook)
}

// IsConnectivity reports whether e is an Outlook 25 (disconnected) or 26
// (restored) event: the only events the analysis uses.
func (e *Event) IsConnectivity() bool {
	return e.IsOutlook() && (e.EventID == 25 || e.EventID == 26)
}

// Warning describes input that could not be read in full. Offset is a byte
// offset for binary formats; Line is a 1-based line (or item index + 1) for
// text formats. Either may be zero when unknown.
type Warning struct {
	Offset int64  `json:"offset,omitempty"`
	Line   int    `json:"line,omitempty"`
	File   string `json:"file,omitempty"`
	Msg    string `json:"message"`
}

func (w Warning) String() string {
	var b strings.Builder
	if w.File != "" {
		b.WriteString(w.File)
		b.WriteString(": ")
	}
	switch {
	case w.Line > 0:
		fmt.Fprintf(&b, "line %d: ", w.Line)
	case w.Offset > 0:
		fmt.Fprintf(&b, "offset %d: ", w.Offset)
	}
	b.WriteString(w.Msg)
	return b.String()
}

// FormatError reports input that cannot be read at all (wrong format,
// unreadable header). Partial damage is reported through warnings instead.
type FormatError struct {
	Format string
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Offset > 0 {
		return fmt.Sprintf("%s: offset %d: %s", e.Format, e.Offset, e.Msg)
	}
	if e.Format == "" {
		return e.Msg
	}
	return e.Format + ": " + e.Msg
}
