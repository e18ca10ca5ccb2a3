package web

import (
	"crypto/tls"
	"fmt"
	"net"
)

// DefaultRateLimit is the default number of requests a minute allowed per
// token (or per client address when no token is sent).
const DefaultRateLimit = 1200

// listenTLS wraps ln in TLS when a certificate is configured.
func listenTLS(ln net.Listener, certFile, keyFile string) (net.Listener, error) {
	if certFile == "" && keyFile == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}
