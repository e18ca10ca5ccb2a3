package web

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// errHostNotAllowed answers a request that names a host this server does
// not go by: a DNS-rebinding page, or a name the operator did not list.
var errHostNotAllowed = &apiError{status: http.StatusMisdirectedRequest, code: "host_not_allowed",
	msg: "this server is not reached by that name: list it with -allowed-hosts (or -public-url) if it is one"}

// hostPolicy decides which Host headers the server answers. IP literals and
// localhost names are always fine: a browser sends those only to a page it
// loaded from that address, so no rebinding is possible. Other names must
// be listed; without a list, they are accepted only once authentication is
// required (a rebound page carries no token and no session cookie of this
// host).
type hostPolicy struct {
	exact    map[string]bool
	suffixes []string // ".corp.example": any subdomain
}

// newHostPolicy builds the policy of the names in allowed and the host of
// publicURL (already validated).
func newHostPolicy(allowed []string, publicURL string) *hostPolicy {
	p := &hostPolicy{exact: map[string]bool{}}
	if u, err := url.Parse(publicURL); err == nil && u.Host != "" {
		allowed = append(allowed, u.Host)
	}
	for _, h := range allowed {
		h = normalizeHost(h)
		switch {
		case h == "":
		case strings.HasPrefix(h, "."):
			p.suffixes = append(p.suffixes, h)
		default:
			p.exact[h] = true
		}
	}
	return p
}

// listed reports whether the operator gave any name.
func (p *hostPolicy) listed() bool { return len(p.exact) > 0 || len(p.suffixes) > 0 }

// alwaysAllowed reports whether host needs no listing: an IP address,
// localhost, a *.localhost name (RFC 6761: loopback only), or a listed name.
func (p *hostPolicy) alwaysAllowed(host string) bool {
	h := normalizeHost(host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || net.ParseIP(strings.Trim(h, "[]")) != nil || p.exact[h] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// normalizeHost is host without its port, in lower case, without a
// trailing dot.
func normalizeHost(host string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(host, ".")
}

// hostGuard refuses requests naming a host the server does not go by: with
// a list, any name off it; without one, any name while the server is open
// (DNS rebinding would otherwise let a web page act as the owner: read,
// ingest, create the first admin token).
func (s *Server) hostGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hosts.alwaysAllowed(r.Host) {
			if s.hosts.listed() {
				s.writeError(w, r, errHostNotAllowed)
				return
			}
			required, err := s.auth.authRequired(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if !required {
				s.writeError(w, r, errHostNotAllowed)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// crossOriginProtection is the CSRF layer, trusting the public URL's
// origin (a reverse proxy may rewrite Host).
func (s *Server) crossOriginProtection() *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(s.cfg.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		if err := cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			s.log.Warn("public URL not trusted as an origin", "url", s.cfg.PublicURL, "err", err)
		}
	}
	return cop
}
