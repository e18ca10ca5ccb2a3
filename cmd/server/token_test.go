package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/store"
)

// TestTokenCLI: create prints the token as the last word of its output,
// list shows it without the secret, revoke makes it fail to authenticate.
func TestTokenCLI(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "tok.db")
	code, out, stderr := runCmd(t, "token", "create", "--name", "splunk prod", "--scope", "read", "-db", dbPath)
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	words := strings.Fields(out)
	secret := words[len(words)-1]
	if !strings.HasPrefix(secret, store.TokenPrefix) || len(secret) < 40 {
		t.Fatalf("last word %q is not a token: %s", secret, out)
	}
	code, out2, _ := runCmd(t, "token", "create", "-db", dbPath, "-name", "agent", "-scope", "ingest")
	if code != 0 {
		t.Fatal("second create")
	}
	agent := strings.Fields(out2)[len(strings.Fields(out2))-1]

	code, list, stderr := runCmd(t, "token", "list", "-db", dbPath)
	if code != 0 {
		t.Fatalf("list: %d %s", code, stderr)
	}
	if !strings.Contains(list, "splunk prod") || !strings.Contains(list, "ingest") || !strings.Contains(list, "active") {
		t.Errorf("list:\n%s", list)
	}
	if strings.Contains(list, secret) || strings.Contains(list, agent) {
		t.Error("list shows a secret")
	}

	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tok, err := db.AuthenticateToken(context.Background(), secret)
	if err != nil || tok.Scope != "read" || tok.Name != "splunk prod" || tok.LastUsedAt == nil {
		t.Fatalf("authenticate: %+v %v", tok, err)
	}

	if code, out, stderr := runCmd(t, "token", "revoke", "-db", dbPath, "splunk prod"); code != 0 || !strings.Contains(out, "Revoked") {
		t.Fatalf("revoke: %d %s %s", code, out, stderr)
	}
	if _, err := db.AuthenticateToken(context.Background(), secret); !errors.Is(err, store.ErrRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := db.AuthenticateToken(context.Background(), agent); err != nil {
		t.Fatalf("the other token: %v", err)
	}
	_, list, _ = runCmd(t, "token", "list", "-db", dbPath)
	if !strings.Contains(list, "revoked") {
		t.Errorf("list after revoke:\n%s", list)
	}
	// Issue 17 row 12: flags after the name, as people type them.
	if code, out, stderr := runCmd(t, "token", "revoke", "agent", "-db", dbPath); code != 0 || !strings.Contains(out, "Revoked") {
		t.Fatalf("revoke NAME -db FILE: %d %s %s", code, out, stderr)
	}
	if code, _, _ := runCmd(t, "token", "revoke", "-db", dbPath, "999"); code != 1 {
		t.Errorf("revoke unknown: exit %d", code)
	}
	for _, args := range [][]string{
		{"token"}, {"token", "create", "-db", dbPath, "--name", "x"}, {"token", "create", "-db", dbPath, "--name", "x", "--scope", "root"},
		{"token", "frobnicate"}, {"token", "revoke", "-db", dbPath},
	} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestServeRefusesOpenOffLoopback: off loopback the server will not start
// without a token (or -no-auth); with a token it starts.
func TestServeRefusesOpenOffLoopback(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "serve.db")
	code, _, stderr := runCmd(t, "serve", "-addr", "0.0.0.0:0", "-db", dbPath)
	if code != 2 || !strings.Contains(stderr, "refusing") {
		t.Fatalf("no token: exit %d: %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "token", "create", "--name", "admin", "--scope", "admin", "-db", dbPath); code != 0 {
		t.Fatal("create")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var out, errb strings.Builder
	if code := run(ctx, []string{"serve", "-addr", "0.0.0.0:0", "-db", dbPath}, &out, &errb); code != 0 {
		t.Fatalf("with a token: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "dashboard on") {
		t.Errorf("output: %s", out.String())
	}
	if code, _, stderr := runCmd(t, "serve", "-addr", "127.0.0.1:0", "-db", dbPath, "-tls-cert", "x.pem"); code != 2 || !strings.Contains(stderr, "tls") {
		t.Errorf("half TLS config: exit %d %s", code, stderr)
	}
}
