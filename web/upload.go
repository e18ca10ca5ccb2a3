package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"idletrace/ingest"
	"idletrace/intake"
	"idletrace/store"
	"idletrace/web/live"
)

// uploadOptions reads the CSV context (time zone, computer) from the query.
func uploadOptions(r *http.Request) (ingest.Options, error) {
	var opts ingest.Options
	if tz := r.URL.Query().Get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return opts, errBadRequest("unknown time zone %q", tz)
		}
		opts.Location = loc
	}
	opts.Computer = strings.TrimSpace(r.URL.Query().Get("computer"))
	if len(opts.Computer) > 255 {
		return opts, errBadRequest("computer name too long")
	}
	return opts, nil
}

// receiver takes uploaded files: it parses the multipart (or raw) body,
// spools each file to TempDir and hands it to the intake pipeline.
type receiver struct {
	tempDir  string
	maxFiles int // files in one request (Config.MaxUploadFiles)
	intake   *intake.Pipeline
	live     *live.Analyzer
	// background runs an async ingest under the server's lifetime.
	background func(work func(ctx context.Context))
}

// fileOutcome is one uploaded file's result.
type fileOutcome struct {
	Upload *store.Upload
	Name   string
	Err    error
}

// maxFormFields is how many parts besides files a request may have (tz,
// computer, empty file inputs).
const maxFormFields = 16

// receiveUploads streams every file of a multipart body (or a raw body) to
// a temp file and hands it to the intake pipeline, one at a time (async:
// the pipeline reads it in the background). Temp files are removed on every
// path. It fails as a whole only when the body itself is bad.
func (s *receiver) receiveUploads(w http.ResponseWriter, r *http.Request, source string, async bool) ([]fileOutcome, error) {
	opts, err := uploadOptions(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		name := cleanFileName(r.URL.Query().Get("name"))
		if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil && p["filename"] != "" {
			name = cleanFileName(p["filename"])
		}
		out := s.receiveOne(ctx, r.Body, name, source, opts, async)
		if out.Err != nil && isBodyError(out.Err) {
			return nil, out.Err
		}
		return []fileOutcome{out}, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errBadRequest("bad multipart body: %v", err)
	}
	var outs []fileOutcome
	for parts := 0; ; parts++ {
		// Each file costs an upload row, a temp file and (async) a
		// goroutine: a body of thousands of tiny parts would cost thousands.
		if parts >= s.maxFiles+maxFormFields || len(outs) >= s.maxFiles {
			return outs, &apiError{status: http.StatusRequestEntityTooLarge, code: "too_many_files",
				msg: fmt.Sprintf("more than %d files (or %d parts) in one request: send them in several", s.maxFiles, s.maxFiles+maxFormFields)}
		}
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if isBodyError(err) {
				return outs, err
			}
			return outs, errBadRequest("bad multipart body: %v", err)
		}
		switch part.FormName() {
		case "tz":
			v, _ := io.ReadAll(io.LimitReader(part, 100))
			if tz := strings.TrimSpace(string(v)); tz != "" {
				loc, err := time.LoadLocation(tz)
				if err != nil {
					return outs, errBadRequest("unknown time zone %q", tz)
				}
				opts.Location = loc
			}
		case "computer":
			v, _ := io.ReadAll(io.LimitReader(part, 256))
			opts.Computer = strings.TrimSpace(string(v))
		case "file", "files":
			if part.FileName() == "" {
				part.Close()
				continue // an empty file input
			}
			out := s.receiveOne(ctx, part, cleanFileName(part.FileName()), source, opts, async)
			if out.Err != nil && isBodyError(out.Err) {
				return outs, out.Err
			}
			outs = append(outs, out)
		}
		part.Close()
	}
	if len(outs) == 0 {
		return nil, errBadRequest("no file in the request: send multipart \"file\" fields or a raw body")
	}
	return outs, nil
}

func (s *receiver) receiveOne(ctx context.Context, body io.Reader, name, source string, opts ingest.Options, async bool) fileOutcome {
	in, err := spool(s.tempDir, body)
	if err != nil {
		return fileOutcome{Name: name, Err: err}
	}
	in.Name, in.Source = name, source
	if opts.Computer == "" {
		opts.Computer = fileStem(name)
	}
	client := clientKeyFrom(ctx)
	iopts := intake.Options{Read: opts, ErrorText: uploadErrorText,
		// Recorded for the client's next read of the analysis before the
		// upload shows as finished.
		Stored: func(ctx context.Context) { s.live.NoteWrite(ctx, client) }}
	if async {
		iopts.Async = s.background
	}
	u, err := s.intake.Ingest(ctx, in, iopts)
	return fileOutcome{Upload: u, Name: name, Err: err}
}

// isBodyError reports errors of the request body itself (too large, cut
// off), after which no further part can be read.
func isBodyError(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || errors.Is(err, io.ErrUnexpectedEOF)
}

// uploadResponse is the API's view of one uploaded file.
type uploadResponse struct {
	Name          string     `json:"name"`
	Error         *errorBody `json:"error,omitempty"`
	*store.Upload `json:"upload,omitempty"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// handleAPIUploadCreate handles POST /api/v1/uploads.
func (s *Server) handleAPIUploadCreate(w http.ResponseWriter, r *http.Request) {
	status, async := http.StatusCreated, wantAsync(r)
	if async { // ingest in the background; poll GET /api/v1/uploads/{id}
		status = http.StatusAccepted
	}
	outs, err := s.uploads.receiveUploads(w, r, intake.SourceAPI, async)
	for _, o := range outs {
		s.owners.note(r, o.Upload)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]uploadResponse, 0, len(outs))
	ok := 0
	for _, o := range outs {
		item := uploadResponse{Name: o.Name, Upload: o.Upload}
		if o.Err != nil {
			ae := classify(o.Err)
			item.Error = &errorBody{Code: ae.code, Message: ae.msg}
		} else {
			ok++
		}
		items = append(items, item)
	}
	if ok == 0 {
		s.writeError(w, r, outs[0].Err)
		return
	}
	writeJSON(w, status, map[string]any{"items": items})
}

// handleUploadForm handles the upload page's plain form POST: ingest, then
// redirect to the result (Post/Redirect/Get).
func (s *Server) handleUploadForm(w http.ResponseWriter, r *http.Request) {
	outs, err := s.uploads.receiveUploads(w, r, intake.SourceUpload, false)
	for _, o := range outs {
		s.owners.note(r, o.Upload)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(outs) == 1 && outs[0].Upload != nil {
		http.Redirect(w, r, fmt.Sprintf("/uploads/%d", outs[0].Upload.ID), http.StatusSeeOther)
		return
	}
	if len(outs) == 1 {
		s.writeError(w, r, outs[0].Err)
		return
	}
	http.Redirect(w, r, "/uploads", http.StatusSeeOther)
}

func (s *Server) handleUploadPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "upload", &uploadPage{MaxUpload: s.cfg.MaxUpload})
}

func (s *Server) handleUploadList(w http.ResponseWriter, r *http.Request) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	const pageSize = 50
	ups, err := s.db.FindUploads(r.Context(), before, pageSize+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := &uploadListPage{Uploads: ups}
	if len(ups) > pageSize {
		p.Uploads = ups[:pageSize]
		p.Older = ups[pageSize-1].ID
	}
	s.render(w, r, http.StatusOK, "uploads", p)
}

// uploadFromURL loads the upload named by the {uploadID} path parameter;
// when there is none it writes the error and returns nil.
func (s *Server) uploadFromURL(w http.ResponseWriter, r *http.Request) *store.Upload {
	id, err := strconv.ParseInt(chi.URLParam(r, "uploadID"), 10, 64)
	if err != nil || id <= 0 {
		s.writeError(w, r, errNotFound("no such upload"))
		return nil
	}
	u, err := s.db.FindUploadByID(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return nil
	}
	return u
}

func (s *Server) handleUploadDetail(w http.ResponseWriter, r *http.Request) {
	u := s.uploadFromURL(w, r)
	if u == nil {
		return
	}
	p := &uploadDetailPage{Upload: u}
	if u.Status == store.UploadRunning {
		p.Progress, _ = s.db.UploadProgress(r.Context(), u.ID)
	}
	s.render(w, r, http.StatusOK, "upload_detail", p)
}
