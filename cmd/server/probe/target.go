package probe

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Target schemes.
const (
	SchemeTCP   = "tcp"   // tcp://HOST:PORT: bytes written must produce bytes back
	SchemeHTTPS = "https" // https://HOST[:PORT][/path]: an HTTP request must get a response
)

// Target is the far end of the path a probe measures.
type Target struct {
	Scheme string // SchemeTCP or SchemeHTTPS
	Host   string
	Port   string
	// Path is the request target of an HTTPS probe, with its query
	// ("/owa/healthcheck.htm"); empty for TCP.
	Path string
}

// ParseTarget reads tcp://HOST:PORT or https://HOST[:PORT][/path].
func ParseTarget(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	t := Target{Scheme: strings.ToLower(u.Scheme), Host: u.Hostname(), Port: u.Port()}
	if t.Host == "" {
		return Target{}, fmt.Errorf("target %q: want tcp://HOST:PORT or https://HOST[:PORT][/path]", s)
	}
	switch t.Scheme {
	case SchemeTCP:
		if t.Port == "" {
			return Target{}, fmt.Errorf("target %q: a tcp target needs a port", s)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return Target{}, fmt.Errorf("target %q: a tcp target has no path", s)
		}
	case SchemeHTTPS:
		if t.Port == "" {
			t.Port = "443"
		}
		t.Path = u.EscapedPath()
		if t.Path == "" {
			t.Path = "/"
		}
		if u.RawQuery != "" {
			t.Path += "?" + u.RawQuery
		}
	default:
		return Target{}, fmt.Errorf("target %q: scheme must be tcp or https", s)
	}
	if n, err := strconv.Atoi(t.Port); err != nil || n < 1 || n > 65535 {
		return Target{}, fmt.Errorf("target %q: bad port %q", s, t.Port)
	}
	return t, nil
}

// Addr is HOST:PORT, as net.Dial wants it.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, t.Port) }

// String gives the target back in its URL form.
func (t Target) String() string {
	if t.Scheme == SchemeHTTPS {
		return "https://" + t.Addr() + t.Path
	}
	return t.Scheme + "://" + t.Addr()
}
