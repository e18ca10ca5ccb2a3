package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// Asynchronous uploads: POST /api/v1/uploads?async=1 stores the body, answers
// 202 with the upload rows (status "running") and ingests in the background;
// GET /api/v1/uploads/{id} then reports progress_bytes as the ingest reads
// the file, so the upload page shows a long ingest moving instead of a
// frozen request. The plain form and the synchronous API are unchanged.

// asyncIngestSlots bounds concurrent background ingests: SQLite has one
// writer, so more would only queue on it.
var asyncIngestSlots = make(chan struct{}, 2)

// progressEvery is how often a running ingest records its progress.
const progressEvery = 250 * time.Millisecond

type asyncKey struct{}

// wantAsync reports whether the client asked for a background ingest.
func wantAsync(r *http.Request) bool {
	v := r.URL.Query().Get("async")
	b, err := strconv.ParseBool(v)
	return v != "" && (err != nil || b)
}

func withAsync(ctx context.Context) context.Context { return context.WithValue(ctx, asyncKey{}, true) }

func isAsync(ctx context.Context) bool { v, _ := ctx.Value(asyncKey{}).(bool); return v }

// startAsyncIngest creates the upload row for the spooled file tmp and
// ingests it in the background, taking ownership of tmp (it is removed when
// the ingest ends). The returned outcome holds a snapshot of the row.
func (s *Server) startAsyncIngest(ctx context.Context, tmp, name, source string, opts ingest.Options) fileOutcome {
	st, err := os.Stat(tmp)
	if err != nil {
		os.Remove(tmp)
		return fileOutcome{Name: name, Err: fmt.Errorf("ingest %s: %w", name, err)}
	}
	u := &store.Upload{Name: name, Source: source, Bytes: st.Size()}
	if err := s.db.CreateUpload(ctx, u); err != nil {
		os.Remove(tmp)
		return fileOutcome{Name: name, Err: err}
	}
	snap := *u
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer os.Remove(tmp)
		// Not the request's context (the request ends now), but the
		// server's lifetime, so that shutdown can abort it.
		bg := context.WithValue(s.life, clientKey{}, clientKeyFrom(ctx))
		asyncIngestSlots <- struct{}{}
		defer func() { <-asyncIngestSlots }()
		if _, err := s.ingestInto(bg, u, tmp, opts); err != nil {
			s.log.Warn("background ingest", "upload_id", u.ID, "name", name, "err", err)
		}
	}()
	return fileOutcome{Upload: &snap, Name: name}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// readWithProgress reads the file at filePath like ingest.ReadFile and
// records, every progressEvery, how many bytes have been read (capped at
// the size: some readers look at parts twice).
func (s *Server) readWithProgress(ctx context.Context, u *store.Upload, filePath string, opts ingest.Options, emit ingest.EmitFunc) (ingest.Result, error) {
	fh, err := os.Open(filePath)
	if err != nil {
		return ingest.Result{}, fmt.Errorf("open input: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return ingest.Result{}, fmt.Errorf("stat input: %w", err)
	}
	if st.IsDir() {
		return ingest.Result{}, &ingest.FormatError{Msg: "input is a directory"}
	}
	cr := &countingReaderAt{r: fh}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if n := min(cr.n.Load(), st.Size()); n != last {
					last = n
					if err := s.db.SetUploadProgress(context.WithoutCancel(ctx), u.ID, n); err != nil {
						s.log.Debug("upload progress", "upload_id", u.ID, "err", err)
					}
				}
			}
		}
	}()
	res, err := ingest.Read(ctx, cr, st.Size(), opts, emit)
	close(done)
	<-stopped
	return res, err
}

// uploadStatusResponse is GET /api/v1/uploads/{id}: the upload row and how
// far its ingest has read.
type uploadStatusResponse struct {
	*store.Upload
	ProgressBytes int64 `json:"progress_bytes"`
}

// handleAPIUploadGet handles GET /api/v1/uploads/{uploadID}.
func (s *Server) handleAPIUploadGet(w http.ResponseWriter, r *http.Request) {
	u := s.uploadFromURL(w, r)
	if u == nil {
		return
	}
	n, err := s.db.UploadProgress(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, uploadStatusResponse{Upload: u, ProgressBytes: n})
}
