package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"idletrace/store"
	"idletrace/web/charts"
)

// changesPage lists recorded changes, with the form to record one.
type changesPage struct {
	Changes []*store.Change
	Err     string
	At      string // the form's values when refused
	Note    string
	Zone    string
	Range   *pageRange
	Hidden  int // changes outside the range
}

func (p *changesPage) title() (string, string) { return "Changes", "changes" }
func (p *changesPage) timeRange() *pageRange   { return p.Range }

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
	loc := s.zoneOf(r)
	p.Zone = loc.String()
	p.Range = s.carriedRange(r, loc)
	p.Range.Carried = false
	for _, c := range cs {
		if (!p.Range.Since.IsZero() && c.At.Before(p.Range.Since)) || (!p.Range.Until.IsZero() && !c.At.Before(p.Range.Until)) {
			p.Hidden++
			continue
		}
		p.Changes = append(p.Changes, c)
	}
	s.render(w, r, status, "changes", p)
}

// handleChangeForm serves POST /changes: record a change, then show it.
func (s *Server) handleChangeForm(w http.ResponseWriter, r *http.Request) {
	p := &changesPage{At: strings.TrimSpace(r.PostFormValue("at")), Note: r.PostFormValue("note")}
	at, err := parseLocalTime(p.At, s.zoneOf(r))
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
			p.Verdicts = append(p.Verdicts, ba.verdictFor(&res.Report.Diagnoses[i], s.zoneOf(r)))
		}
	}
	s.render(w, r, http.StatusOK, "change", p)
}

// changeMarks are the recorded changes as chart marks (the newest 100),
// each linking to its before/after page; none when they cannot be read.
func (s *Server) changeMarks(ctx context.Context) []charts.ChangeMark {
	cs, err := s.db.FindChanges(ctx, 100)
	if err != nil {
		return nil
	}
	out := make([]charts.ChangeMark, 0, len(cs))
	for _, c := range cs {
		out = append(out, charts.ChangeMark{T: c.At, Label: c.Note, Href: "/changes/" + strconv.FormatInt(c.ID, 10)})
	}
	return out
}
