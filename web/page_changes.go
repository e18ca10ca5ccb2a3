package web

import (
	"net/http"
	"strconv"
	"strings"

	"idletrace/store"
)

// changesPage lists recorded changes, with the form to record one.
type changesPage struct {
	Changes []*store.Change
	Err     string
	At      string // the form's values when refused
	Note    string
	Zone    string
}

func (p *changesPage) title() (string, string) { return "Changes", "changes" }

// changePage is one change and the analysis before and after it.
type changePage struct {
	C        *apiChange
	Verdicts []changeVerdict
}

func (p *changePage) title() (string, string) { return "Change: " + p.C.Note, "changes" }

func (s *Server) handleChangesPage(w http.ResponseWriter, r *http.Request) {
	s.renderChanges(w, r, http.StatusOK, &changesPage{})
}

func (s *Server) renderChanges(w http.ResponseWriter, r *http.Request, status int, p *changesPage) {
	cs, err := s.db.FindChanges(r.Context(), 100)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p.Changes, p.Zone = cs, s.cfg.DisplayTZ.String()
	s.render(w, r, status, "changes", p)
}

// handleChangeForm serves POST /changes: record a change, then show it.
func (s *Server) handleChangeForm(w http.ResponseWriter, r *http.Request) {
	p := &changesPage{At: strings.TrimSpace(r.PostFormValue("at")), Note: r.PostFormValue("note")}
	at, err := parseLocalTime(p.At, s.cfg.DisplayTZ)
	if p.At == "" {
		err = errBadRequest("say when the change was made")
	}
	if err != nil {
		p.Err = err.Error()
		s.renderChanges(w, r, http.StatusBadRequest, p)
		return
	}
	c := &store.Change{At: at, Note: p.Note}
	if err := s.db.CreateChange(r.Context(), c); err != nil {
		if ve, ok := err.(*store.ValidationError); ok {
			p.Err = ve.Msg
			s.renderChanges(w, r, http.StatusUnprocessableEntity, p)
			return
		}
		s.writeError(w, r, err)
		return
	}
	http.Redirect(w, r, "/changes/"+strconv.FormatInt(c.ID, 10), http.StatusSeeOther)
}

func (s *Server) handleChangePage(w http.ResponseWriter, r *http.Request) {
	c, err := s.changeOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ba, err := s.beforeAfter(r.Context(), c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := &changePage{C: ba}
	// What became of the diagnoses before the change.
	if ba.WindowSeconds > 0 {
		res, err := s.live.Scoped(r.Context(), "", ba.Before.Since, ba.Before.Until)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for i := range res.Report.Diagnoses {
			p.Verdicts = append(p.Verdicts, ba.verdictFor(&res.Report.Diagnoses[i]))
		}
	}
	s.render(w, r, http.StatusOK, "change", p)
}
