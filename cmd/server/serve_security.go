package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"idletrace/web"
)

// securityConfig holds the serve flags for TLS, rate limits and push.
type securityConfig struct {
	tlsCert, tlsKey string
	rateLimit       string
	hecURL          string
	hecToken        string
	webhookURL      string
	pushInterval    time.Duration
	publicURL       string
	allowedHosts    string
	bodyTimeout     time.Duration
	uploadTimeout   time.Duration
	maxConns        int
	maxUploadFiles  int
	maxReads        string
}

func (sc *securityConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&sc.tlsCert, "tls-cert", envOr("IDLETRACE_TLS_CERT", ""), "PEM certificate file: serve HTTPS (env IDLETRACE_TLS_CERT)")
	fs.StringVar(&sc.tlsKey, "tls-key", envOr("IDLETRACE_TLS_KEY", ""), "PEM private key file of -tls-cert (env IDLETRACE_TLS_KEY)")
	fs.StringVar(&sc.rateLimit, "rate-limit", envOr("IDLETRACE_RATE_LIMIT", strconv.Itoa(web.DefaultRateLimit)), "requests a minute per token (or per address without one); 0 = no limit (env IDLETRACE_RATE_LIMIT)")
	fs.StringVar(&sc.hecURL, "push-hec-url", envOr("IDLETRACE_PUSH_HEC_URL", ""), "forward new diagnoses to this Splunk HEC event endpoint (env IDLETRACE_PUSH_HEC_URL)")
	fs.StringVar(&sc.hecToken, "push-hec-token", envOr("IDLETRACE_PUSH_HEC_TOKEN", ""), "Splunk HEC token (env IDLETRACE_PUSH_HEC_TOKEN; prefer the env: flags show in ps)")
	fs.StringVar(&sc.webhookURL, "push-webhook-url", envOr("IDLETRACE_PUSH_WEBHOOK_URL", ""), "POST new diagnoses as JSON to this URL (env IDLETRACE_PUSH_WEBHOOK_URL)")
	fs.StringVar(&sc.publicURL, "public-url", envOr("IDLETRACE_PUBLIC_URL", ""), "URL people reach the server by, e.g. https://idletrace.corp.example behind a reverse proxy: its host is allowed and its origin trusted (env IDLETRACE_PUBLIC_URL)")
	fs.StringVar(&sc.allowedHosts, "allowed-hosts", envOr("IDLETRACE_ALLOWED_HOSTS", ""), "comma-separated host names the server answers to besides IP addresses and localhost (.corp.example: any subdomain); when set, other names get 421 (env IDLETRACE_ALLOWED_HOSTS)")
	fs.DurationVar(&sc.bodyTimeout, "body-timeout", envDuration("IDLETRACE_BODY_TIMEOUT", web.DefaultBodyTimeout), "longest time to read a request body other than an upload (env IDLETRACE_BODY_TIMEOUT)")
	fs.DurationVar(&sc.uploadTimeout, "upload-timeout", envDuration("IDLETRACE_UPLOAD_TIMEOUT", web.DefaultUploadTimeout), "longest time to read an upload's body (env IDLETRACE_UPLOAD_TIMEOUT)")
	fs.IntVar(&sc.maxConns, "max-conns", web.DefaultMaxConns, "most HTTP connections served at once; more wait (keep it below the open-file limit)")
	fs.StringVar(&sc.maxReads, "max-concurrent-reads", envOr("IDLETRACE_MAX_CONCURRENT_READS", strconv.Itoa(web.DefaultMaxConcurrentReads())), "most read requests (pages, API reads) run at once, default 2 × GOMAXPROCS; more wait their turn, so that under load the analysis and ingests keep their share of the CPU; 0 = no limit (env IDLETRACE_MAX_CONCURRENT_READS)")
	fs.IntVar(&sc.maxUploadFiles, "max-upload-files", web.DefaultMaxUploadFiles, "most files in one upload request")
	fs.DurationVar(&sc.pushInterval, "push-interval", 30*time.Second, "how often to look for new diagnoses to push")
}

func (sc *securityConfig) validate() error {
	if (sc.tlsCert == "") != (sc.tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	if n, err := strconv.Atoi(sc.rateLimit); err != nil || n < 0 {
		return errors.New("-rate-limit must be a number of requests a minute (0 = no limit)")
	}
	if sc.hecURL != "" && sc.hecToken == "" {
		return errors.New("-push-hec-url needs -push-hec-token")
	}
	if sc.publicURL != "" {
		u, err := url.Parse(sc.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("-public-url must be an http or https URL, e.g. https://idletrace.corp.example")
		}
	}
	for _, h := range sc.hosts() {
		if strings.ContainsAny(h, "/ @") {
			return fmt.Errorf("-allowed-hosts: %q is not a host name", h)
		}
	}
	if sc.bodyTimeout < time.Second || sc.uploadTimeout < time.Second {
		return errors.New("-body-timeout and -upload-timeout must be at least 1s")
	}
	if sc.maxConns < 1 || sc.maxUploadFiles < 1 {
		return errors.New("-max-conns and -max-upload-files must be at least 1")
	}
	if n, err := strconv.Atoi(sc.maxReads); err != nil || n < 0 {
		return errors.New("-max-concurrent-reads must be a number of requests (0 = no limit)")
	}
	if sc.pushInterval < time.Second {
		return errors.New("-push-interval must be at least 1s")
	}
	return nil
}

// hosts is the -allowed-hosts list.
func (sc *securityConfig) hosts() []string {
	var out []string
	for _, h := range strings.Split(sc.allowedHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

func (sc *securityConfig) apply(c *web.Config) {
	c.TLSCert, c.TLSKey = sc.tlsCert, sc.tlsKey
	c.PublicURL, c.AllowedHosts = sc.publicURL, sc.hosts()
	c.BodyTimeout, c.UploadTimeout, c.MaxConns = sc.bodyTimeout, sc.uploadTimeout, sc.maxConns
	c.MaxUploadFiles = sc.maxUploadFiles
	if n, _ := strconv.Atoi(sc.maxReads); n == 0 {
		c.MaxConcurrentReads = -1
	} else {
		c.MaxConcurrentReads = n
	}
	if n, _ := strconv.Atoi(sc.rateLimit); n == 0 {
		c.RateLimit = -1
	} else {
		c.RateLimit = n
	}
	c.Push = web.PushConfig{HECURL: sc.hecURL, HECToken: sc.hecToken, WebhookURL: sc.webhookURL, Interval: sc.pushInterval}
}

// envDuration is the duration in the environment variable, or def when it
// is unset or not a duration (Validate then sees def).
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(envOr(name, "")); err == nil {
		return d
	}
	return def
}
