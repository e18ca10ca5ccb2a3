package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"idletrace/ingest/beats"
	"idletrace/web"
)

// beatsConfig holds the flags of the Beats (lumberjack v2) listener, which
// lets Winlogbeat's output.logstash send straight to idletrace.
type beatsConfig struct {
	addr     string
	tlsCert  string
	tlsKey   string
	clientCA string
	noAuth   bool
	maxMem   string
	maxBatch string
}

func (b *beatsConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&b.addr, "beats-addr", envOr("IDLETRACE_BEATS_ADDR", ""), "listen address for Winlogbeat's output.logstash (lumberjack v2), e.g. :5044; off when empty (env IDLETRACE_BEATS_ADDR)")
	fs.StringVar(&b.tlsCert, "beats-tls-cert", envOr("IDLETRACE_BEATS_TLS_CERT", ""), "PEM certificate for TLS on the Beats listener; default the HTTP server's -tls-cert (env IDLETRACE_BEATS_TLS_CERT)")
	fs.StringVar(&b.tlsKey, "beats-tls-key", envOr("IDLETRACE_BEATS_TLS_KEY", ""), "PEM key for -beats-tls-cert (env IDLETRACE_BEATS_TLS_KEY)")
	fs.StringVar(&b.clientCA, "beats-client-ca", envOr("IDLETRACE_BEATS_CLIENT_CA", ""), "PEM CA bundle: require Beats clients to present a certificate it signed; needs -beats-tls-cert (env IDLETRACE_BEATS_CLIENT_CA)")
	fs.StringVar(&b.maxMem, "beats-max-memory", envOr("IDLETRACE_BEATS_MAX_MEMORY", "64MiB"), "memory for Beats batches not yet acknowledged, all connections together; past it clients wait (env IDLETRACE_BEATS_MAX_MEMORY)")
	fs.StringVar(&b.maxBatch, "beats-max-batch", envOr("IDLETRACE_BEATS_MAX_BATCH", "32MiB"), "largest Beats batch, its events' JSON inflated; past it the connection is closed (env IDLETRACE_BEATS_MAX_BATCH)")
	fs.BoolVar(&b.noAuth, "beats-no-auth", envOr("IDLETRACE_BEATS_NO_AUTH", "") == "1", "allow the Beats listener on a non-loopback address without client certificates: lumberjack has no other authentication (env IDLETRACE_BEATS_NO_AUTH=1)")
}

// inheritTLS gives the Beats listener the HTTP server's certificate when it
// has none of its own.
func (b *beatsConfig) inheritTLS(cert, key string) {
	if b.tlsCert == "" && b.tlsKey == "" {
		b.tlsCert, b.tlsKey = cert, key
	}
}

// check refuses an unauthenticated Beats listener off loopback, as the HTTP
// server refuses to run open off loopback.
func (b *beatsConfig) check() error {
	if b.addr == "" {
		return nil
	}
	if _, err := parseSize(b.maxMem); err != nil {
		return fmt.Errorf("-beats-max-memory: %w", err)
	}
	if _, err := parseSize(b.maxBatch); err != nil {
		return fmt.Errorf("-beats-max-batch: %w", err)
	}
	if (b.tlsCert == "") != (b.tlsKey == "") {
		return errors.New("-beats-tls-cert and -beats-tls-key go together")
	}
	if b.clientCA != "" && b.tlsCert == "" {
		return errors.New("-beats-client-ca needs -beats-tls-cert and -beats-tls-key")
	}
	if b.clientCA == "" && !b.noAuth && !isLoopback(b.addr) {
		return fmt.Errorf("refusing the Beats listener on %s without authentication: lumberjack has none, so anyone who reaches the port could add events.\n"+
			"Listen on localhost, require client certificates with -beats-client-ca (and -beats-tls-cert/-beats-tls-key), or pass -beats-no-auth on a trusted network", b.addr)
	}
	return nil
}

func (b *beatsConfig) tlsConfig() (*tls.Config, error) {
	if b.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(b.tlsCert, b.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("-beats-tls-cert/-beats-tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if b.clientCA != "" {
		pem, err := os.ReadFile(b.clientCA)
		if err != nil {
			return nil, fmt.Errorf("-beats-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-beats-client-ca: no PEM certificate in %s", b.clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// startBeats starts the Beats listener when -beats-addr is set. The
// returned stop function closes it (a no-op when it is off).
func startBeats(b *beatsConfig, srv *web.Server, logger *slog.Logger) (stop func(), err error) {
	if b.addr == "" {
		return func() {}, nil
	}
	tc, err := b.tlsConfig()
	if err != nil {
		return nil, err
	}
	maxMem, _ := parseSize(b.maxMem) // checked by check
	maxBatch, _ := parseSize(b.maxBatch)
	ln, err := beats.Listen(beats.Config{Addr: b.addr, TLS: tc, Sink: srv.BeatsSink("winlogbeat"), Logger: logger,
		MaxMemory: maxMem, MaxBatchBytes: maxBatch})
	if err != nil {
		return nil, err
	}
	logger.Info("Beats (lumberjack v2) listener", "addr", ln.Addr().String(), "tls", tc != nil, "client_certs", b.clientCA != "")
	return func() {
		ln.Close()
		st := ln.Stats()
		logger.Info("Beats listener stopped", "batches", st.Batches, "events", st.Events, "rejected", st.Rejected)
	}, nil
}
