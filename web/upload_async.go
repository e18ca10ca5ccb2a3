package web

import (
	"net/http"
	"strconv"

	"idletrace/store"
)

// Asynchronous uploads: POST /api/v1/uploads?async=1 stores the body, answers
// 202 with the upload rows (status "running") and ingests in the background;
// GET /api/v1/uploads/{id} then reports progress_bytes as the ingest reads
// the file, so the upload page shows a long ingest moving instead of a
// frozen request. The plain form and the synchronous API are unchanged.

// wantAsync reports whether the client asked for a background ingest.
func wantAsync(r *http.Request) bool {
	v := r.URL.Query().Get("async")
	b, err := strconv.ParseBool(v)
	return v != "" && (err != nil || b)
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
	if !s.owners.mayRead(r, u.ID) {
		s.writeError(w, r, errNotFound("no such upload")) // as if it did not exist: not even its id leaks
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
