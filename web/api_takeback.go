package web

import (
	"context"
	"fmt"
	"net/http"

	"idletrace/intake"
	"idletrace/store"
)

// Taking data back: deleting an upload removes the events only it brought
// (store.DeleteUpload) and has the live analysis start over; the demo's
// uploads (source "demo") go in one click.

// deleteUploads deletes the uploads and reloads the analysis; it returns
// the total of what was deleted.
func (s *Server) deleteUploads(ctx context.Context, ids ...int64) (*store.UploadDeletion, error) {
	total := &store.UploadDeletion{}
	defer func() {
		if total.Removed > 0 || total.Kept > 0 || total.UploadID != 0 {
			s.live.Reload()
		}
	}()
	for _, id := range ids {
		d, err := s.db.DeleteUpload(ctx, id)
		if err != nil {
			return total, err
		}
		total.UploadID = id
		total.Removed += d.Removed
		total.Kept += d.Kept
		total.Unlinked += d.Unlinked
	}
	return total, nil
}

// handleAPIUploadDelete serves DELETE /api/v1/uploads/{uploadID}.
func (s *Server) handleAPIUploadDelete(w http.ResponseWriter, r *http.Request) {
	u := s.uploadFromURL(w, r)
	if u == nil {
		return
	}
	d, err := s.deleteUploads(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// takebackPage says what deleting took back.
type takebackPage struct {
	What    string
	Deleted *store.UploadDeletion
	Uploads int
}

func (p *takebackPage) title() (string, string) { return "Deleted " + p.What, "uploads" }

// handleUploadDeleteForm serves POST /uploads/{uploadID}/delete (the
// upload page's button).
func (s *Server) handleUploadDeleteForm(w http.ResponseWriter, r *http.Request) {
	u := s.uploadFromURL(w, r)
	if u == nil {
		return
	}
	d, err := s.deleteUploads(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "takeback", &takebackPage{What: fmt.Sprintf("upload %s", u.Name), Deleted: d, Uploads: 1})
}

// handleDemoRemove serves POST /demo/remove: every upload of the demo.
func (s *Server) handleDemoRemove(w http.ResponseWriter, r *http.Request) {
	ids, err := s.db.UploadIDsBySource(r.Context(), intake.SourceDemo)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.deleteUploads(r.Context(), ids...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "takeback", &takebackPage{What: "the demo data", Deleted: d, Uploads: len(ids)})
}
