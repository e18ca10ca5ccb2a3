package web

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// List paging limits.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Times outside this range are refused: they cannot be real event times and
// the far ones overflow the nanosecond column.
var (
	minQueryTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxQueryTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// listQuery is a list endpoint's parsed query: filters and a page.
type listQuery struct {
	Since, Until time.Time // zero = open
	Computer     string
	Kind         string
	After        string // the raw cursor; decoded by the endpoint
	Limit        int
	// Export only.
	Format string
}

// queryParam describes one accepted query parameter.
type queryParam struct {
	name  string
	kinds []string // for "kind" and "format": the accepted values
}

// parseQuery reads and validates the query against the parameters an
// endpoint accepts. Unknown, repeated, malformed or out-of-range values are
// 400s: a SIEM learns of a typo at once rather than getting unfiltered data.
func parseQuery(r *http.Request, accepted ...queryParam) (*listQuery, error) {
	q := &listQuery{Limit: defaultLimit}
	values := r.URL.Query()
	known := map[string]queryParam{}
	for _, p := range accepted {
		known[p.name] = p
	}
	for name, vs := range values {
		p, ok := known[name]
		if !ok {
			return nil, errBadRequest("unknown query parameter %q", clip(name))
		}
		if len(vs) > 1 {
			return nil, errBadRequest("query parameter %q given %d times", name, len(vs))
		}
		v := vs[0]
		if len(v) > 512 {
			return nil, errBadRequest("query parameter %q is too long", name)
		}
		if err := q.set(p, v); err != nil {
			return nil, err
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return nil, errBadRequest("since must be before until")
	}
	return q, nil
}

func (q *listQuery) set(p queryParam, v string) error {
	var err error
	switch p.name {
	case "since":
		q.Since, err = parseQueryTime("since", v)
	case "until":
		q.Until, err = parseQueryTime("until", v)
	case "computer":
		v = strings.TrimSpace(v)
		if v == "" || len(v) > 255 || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return errBadRequest("computer must be a name of 1 to 255 printable characters")
		}
		q.Computer = v
	case "kind", "format":
		ok := false
		for _, k := range p.kinds {
			ok = ok || v == k
		}
		if !ok {
			return errBadRequest("%s must be one of %s", p.name, strings.Join(p.kinds, ", "))
		}
		if p.name == "kind" {
			q.Kind = v
		} else {
			q.Format = v
		}
	case "after":
		if v == "" {
			return errBadRequest("after must be a cursor from a previous response's next")
		}
		q.After = v
	case "limit":
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > maxLimit {
			return errBadRequest("limit must be an integer from 1 to %d", maxLimit)
		}
		q.Limit = n
	}
	return err
}

func parseQueryTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errBadRequest("%s must be an RFC 3339 time such as 2024-05-02T09:00:00Z", name)
	}
	if t.Before(minQueryTime) || t.After(maxQueryTime) {
		return time.Time{}, errBadRequest("%s must be between 1970 and 2200", name)
	}
	return t.UTC(), nil
}

// clip shortens a client-supplied string quoted back in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Cursors are opaque to clients: base64url of a kind letter and a position.
// A cursor of one list is refused by another.
func encodeCursor(kind byte, pos string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{kind, ':'}, pos...))
}

func decodeCursor(kind byte, c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != kind || b[1] != ':' {
		return "", errBadCursor
	}
	return string(b[2:]), nil
}

var errBadCursor = &apiError{status: http.StatusBadRequest, code: "bad_cursor", msg: "after is not a cursor of this list: pass the next value of a previous response unchanged"}

// page is a list response (SPEC §7).
type page[T any] struct {
	Items []T `json:"items"`
	// Next is the cursor of the following page, "" at the end.
	Next string `json:"next"`
}

// Common parameter sets.
var (
	pSince    = queryParam{name: "since"}
	pUntil    = queryParam{name: "until"}
	pComputer = queryParam{name: "computer"}
	pAfter    = queryParam{name: "after"}
	pLimit    = queryParam{name: "limit"}
)
