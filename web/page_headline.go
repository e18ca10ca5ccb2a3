package web

import (
	"fmt"
	"net/http"
	"net/url"

	"idletrace/web/charts"
)

// uploadHeadline is what the upload page shows at its top as soon as a
// file is in (GET /upload/headline, read by upload.js): the diagnosis the
// data now give, in the words of the dashboard's first card.
type uploadHeadline struct {
	Kind      string `json:"kind"` // the diagnosis' kind, "none" (no pattern) or "empty" (no events)
	Headline  string `json:"headline"`
	Text      string `json:"text"`
	Href      string `json:"href"`             // the diagnosis page, else the dashboard
	Report    string `json:"report,omitempty"` // the report file of the diagnosis
	More      int    `json:"more"`             // further diagnoses (cards) on the dashboard
	Computers int    `json:"computers"`
	Events    int    `json:"events"`
}

// handleUploadHeadline serves GET /upload/headline: the headline result of
// the data so far, including the caller's own uploads (read your writes).
func (s *Server) handleUploadHeadline(w http.ResponseWriter, r *http.Request) {
	snap, err := current(r.Context(), s.live)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res := snap.Result
	rep := &res.Report
	h := uploadHeadline{Kind: "empty", Href: "/", Computers: len(res.Hosts), Events: rep.Events.Disconnects + rep.Events.Reconnects,
		Headline: "No Outlook events yet", Text: "None of the data holds Outlook events 25 or 26: check that these are the Application logs of the affected computers."}
	ru := rollupDiagnoses(rep.Diagnoses, len(res.Hosts))
	switch {
	case len(ru) > 0:
		lead := ru[0]
		who := fmt.Sprintf("%d of %d %s", lead.Computers, lead.Fleet, charts.Plural(lead.Fleet, "computer", "computers"))
		if lead.Computers == 1 && lead.Fleet == 1 {
			who = "the one computer in the data"
		}
		h.Kind, h.Headline, h.Text, h.More = lead.Lead.Kind, lead.Title+" on the path of "+who, lead.Text, len(ru)-1
		h.Href = "/diagnoses/" + url.PathEscape(lead.Lead.ID)
		h.Report = h.Href + "/report"
	case h.Events > 0:
		h.Kind, h.Headline = "none", fmt.Sprintf("No idle-timeout pattern in %d %s so far", h.Computers, charts.Plural(h.Computers, "computer's events", "computers' events"))
		h.Text = "The disconnects in this data do not recur at an interval many computers share. Logs of more affected computers, or over more days, may show one."
	}
	writeJSON(w, http.StatusOK, h)
}
