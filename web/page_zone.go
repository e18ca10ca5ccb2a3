package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The display zone is chosen per browser: a control on every page (the
// layout's zone form) posts to /display-zone, which remembers the zone in
// a cookie; pages without one show times in the server's -display-tz.

// zoneCookie is the cookie that holds a browser's display zone.
const zoneCookie = "idletrace_tz"

// commonZones are offered by the zone control (any IANA name is accepted).
var commonZones = []string{"UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
	"Europe/Amsterdam", "Europe/Brussels", "Europe/Zurich", "Europe/Vienna", "Europe/Madrid", "Europe/Rome", "Europe/Stockholm",
	"Europe/Warsaw", "Europe/Prague", "Europe/Helsinki", "Europe/Athens", "Europe/Istanbul", "Europe/Moscow",
	"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles", "America/Anchorage",
	"America/Toronto", "America/Mexico_City", "America/Sao_Paulo", "America/Buenos_Aires", "Pacific/Honolulu",
	"Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Tokyo", "Asia/Seoul",
	"Australia/Perth", "Australia/Sydney", "Pacific/Auckland", "Africa/Johannesburg", "Africa/Cairo", "Africa/Lagos"}

// zoneCache holds the zones loaded for cookies (only valid names enter).
var zoneCache sync.Map // name → *time.Location

// loadZone reads an IANA zone name ("Europe/Berlin", "UTC"); "Local" and
// names that are not plain zone names are refused.
func loadZone(name string) (*time.Location, error) {
	if l, ok := zoneCache.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || len(name) > 64 || name == "Local" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, errBadRequest("unknown time zone %q: use an IANA name such as Europe/Berlin", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/_+-", c)) {
			return nil, errBadRequest("unknown time zone %q: use an IANA name such as Europe/Berlin", name)
		}
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, errBadRequest("unknown time zone %q: use an IANA name such as Europe/Berlin", name)
	}
	zoneCache.Store(name, l)
	return l, nil
}

// zoneOf is the display zone of a request: its browser's choice (the
// cookie), else the server's -display-tz.
func (s *Server) zoneOf(r *http.Request) *time.Location {
	if c, err := r.Cookie(zoneCookie); err == nil && c.Value != "" {
		if l, err := loadZone(c.Value); err == nil {
			return l
		}
	}
	return s.cfg.DisplayTZ
}

// handleDisplayZone serves POST /display-zone: remember the browser's
// zone (tz; reset=1 forgets it), then go back to the page (back).
func (s *Server) handleDisplayZone(w http.ResponseWriter, r *http.Request) {
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.HasPrefix(back, "/\\") || strings.ContainsAny(back, "\r\n") {
		back = "/"
	}
	c := &http.Cookie{Name: zoneCookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil}
	name := strings.TrimSpace(r.PostFormValue("tz"))
	if r.PostFormValue("reset") != "" || name == "" || name == s.cfg.DisplayTZ.String() {
		c.MaxAge = -1
	} else {
		if _, err := loadZone(name); err != nil {
			s.writeError(w, r, err)
			return
		}
		c.Value, c.MaxAge = name, 400*24*3600
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// zoneTemplates are the pages and the report parsed with the helpers of
// one display zone (the helpers format times in it).
type zoneTemplates struct {
	pages  *pageSet
	report *template.Template
}

// zoneSets holds the templates of each zone in use; a few dozen at most
// are kept, any further zone is parsed per request.
type zoneSets struct {
	mu sync.Mutex
	m  map[string]*zoneTemplates
}

const maxZoneSets = 32

// templatesFor returns the templates that show times in loc.
func (s *Server) templatesFor(loc *time.Location) (*zoneTemplates, error) {
	if loc == s.cfg.DisplayTZ {
		return &zoneTemplates{pages: s.pages, report: s.report}, nil
	}
	z := &s.zones
	z.mu.Lock()
	zt := z.m[loc.String()]
	z.mu.Unlock()
	if zt != nil {
		return zt, nil
	}
	pages, err := parsePages(pageFuncs(loc))
	if err != nil {
		return nil, fmt.Errorf("parse templates for %s: %w", loc, err)
	}
	report, err := parseStandalone(pageFuncs(loc))
	if err != nil {
		return nil, fmt.Errorf("parse the report template for %s: %w", loc, err)
	}
	zt = &zoneTemplates{pages: pages, report: report}
	z.mu.Lock()
	if z.m == nil {
		z.m = map[string]*zoneTemplates{}
	}
	if len(z.m) < maxZoneSets {
		z.m[loc.String()] = zt
	}
	z.mu.Unlock()
	return zt, nil
}
