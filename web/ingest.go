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
	"time"
	"unicode"

	"idletrace/ingest"
	"idletrace/store"
)

// insertBatch is how many events go into one write transaction.
const insertBatch = 5000

// ingestFile reads the file at path (already on disk) into the database as
// one upload. Only Outlook 25/26 events from the Application channel are
// kept. The upload row is finished even when the read fails, so that a
// failed or partial ingest is never shown as complete.
func (s *Server) ingestFile(ctx context.Context, filePath, name, source string, opts ingest.Options) (*store.Upload, error) {
	st, err := os.Stat(filePath)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", name, err)
	}
	u := &store.Upload{Name: name, Source: source, Bytes: st.Size()}
	if err := s.db.CreateUpload(ctx, u); err != nil {
		return nil, err
	}
	return s.ingestInto(ctx, u, filePath, opts)
}

// ingestInto reads the file at filePath into the database under the upload
// row u (created by the caller, status running) and finishes the row.
func (s *Server) ingestInto(ctx context.Context, u *store.Upload, filePath string, opts ingest.Options) (*store.Upload, error) {
	name := u.Name
	opts.Name = name
	start := time.Now()
	sink := s.db.NewUploadSink(ctx, u)
	res, err := s.readWithProgress(ctx, u, filePath, opts, sink.Add)
	if err == nil {
		// Store the rest now and record it for the client's next read of
		// the analysis (report.go) before the upload shows as finished.
		err = sink.Flush()
		s.live.NoteWrite(ctx, clientKeyFrom(ctx))
	}
	err = sink.Finish(res, err, func(err error) string {
		if ae := classify(err); ae.status != http.StatusInternalServerError {
			return ae.msg
		}
		return "ingest stopped: " + errorSummary(err)
	})
	s.metrics.observeIngest(u, time.Since(start), err)
	if err != nil {
		return u, fmt.Errorf("ingest %s: %w", name, err)
	}
	s.log.Info("ingested", "upload_id", u.ID, "name", name, "format", u.Format, "records", u.Records,
		"outlook_events", u.OutlookEvents, "new", u.NewEvents, "duplicates", u.DuplicateEvents, "warnings", len(u.Warnings))
	return u, nil
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

// spool copies r to a new temp file and returns its path; the caller removes it.
func (s *Server) spool(r io.Reader) (string, error) {
	f, err := os.CreateTemp(s.cfg.TempDir, "idletrace-upload-*")
	if err != nil {
		return "", fmt.Errorf("spool upload: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("spool upload: %w", err)
	}
	return f.Name(), nil
}

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
