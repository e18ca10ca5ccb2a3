package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Source reads the Outlook 25/26 events of a Windows Application log.
type Source interface {
	// Query returns, as `wevtutil qe … /f:xml` prints them, at most max
	// Outlook 25/26 events with a record id above after, oldest first.
	Query(ctx context.Context, after int64, max int) ([]byte, error)
	// Newest returns the newest event of the log (any provider) in the same
	// form, or nothing when the log is empty. A newest record id below the
	// one last sent means the log was cleared and its numbering restarted.
	Newest(ctx context.Context) ([]byte, error)
}

// outlookQuery is the XPath filter of the events the collector sends.
func outlookQuery(after int64) string {
	return fmt.Sprintf("*[System[Provider[@Name='Outlook'] and (EventID=25 or EventID=26) and (EventRecordID>%d)]]", after)
}

// wevtutil queries the local Application log with the wevtutil command
// that every Windows since Vista has.
type wevtutil struct {
	path    string // "wevtutil" unless told
	channel string // "Application"
}

func (w wevtutil) run(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, w.path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, fmt.Errorf("%s %s: %w: %s", w.path, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

func (w wevtutil) Query(ctx context.Context, after int64, max int) ([]byte, error) {
	return w.run(ctx, "qe", w.channel, "/q:"+outlookQuery(after), "/f:xml", fmt.Sprintf("/c:%d", max), "/rd:false")
}

func (w wevtutil) Newest(ctx context.Context) ([]byte, error) {
	return w.run(ctx, "qe", w.channel, "/f:xml", "/c:1", "/rd:true")
}
