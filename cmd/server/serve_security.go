package main

import (
	"errors"
	"flag"
	"strconv"
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
}

func (sc *securityConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&sc.tlsCert, "tls-cert", envOr("IDLETRACE_TLS_CERT", ""), "PEM certificate file: serve HTTPS (env IDLETRACE_TLS_CERT)")
	fs.StringVar(&sc.tlsKey, "tls-key", envOr("IDLETRACE_TLS_KEY", ""), "PEM private key file of -tls-cert (env IDLETRACE_TLS_KEY)")
	fs.StringVar(&sc.rateLimit, "rate-limit", envOr("IDLETRACE_RATE_LIMIT", strconv.Itoa(web.DefaultRateLimit)), "requests a minute per token (or per address without one); 0 = no limit (env IDLETRACE_RATE_LIMIT)")
	fs.StringVar(&sc.hecURL, "push-hec-url", envOr("IDLETRACE_PUSH_HEC_URL", ""), "forward new diagnoses to this Splunk HEC event endpoint (env IDLETRACE_PUSH_HEC_URL)")
	fs.StringVar(&sc.hecToken, "push-hec-token", envOr("IDLETRACE_PUSH_HEC_TOKEN", ""), "Splunk HEC token (env IDLETRACE_PUSH_HEC_TOKEN; prefer the env: flags show in ps)")
	fs.StringVar(&sc.webhookURL, "push-webhook-url", envOr("IDLETRACE_PUSH_WEBHOOK_URL", ""), "POST new diagnoses as JSON to this URL (env IDLETRACE_PUSH_WEBHOOK_URL)")
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
	if sc.pushInterval < time.Second {
		return errors.New("-push-interval must be at least 1s")
	}
	return nil
}

func (sc *securityConfig) apply(c *web.Config) {
	c.TLSCert, c.TLSKey = sc.tlsCert, sc.tlsKey
	if n, _ := strconv.Atoi(sc.rateLimit); n == 0 {
		c.RateLimit = -1
	} else {
		c.RateLimit = n
	}
	c.Push = web.PushConfig{HECURL: sc.hecURL, HECToken: sc.hecToken, WebhookURL: sc.webhookURL, Interval: sc.pushInterval}
}
