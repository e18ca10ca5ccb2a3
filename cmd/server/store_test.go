package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"idletrace/store"
	"idletrace/store/pg"
	"idletrace/store/storetest"
	"idletrace/web"
)

// TestDBFlagPostgres: -db with a postgres:// URL selects PostgreSQL for
// every command (here token and ingest), the same URL serves, and the
// password never reaches the logs.
func TestDBFlagPostgres(t *testing.T) {
	dsn := storetest.PostgresURL(t)
	code, out, stderr := runCmd(t, "token", "create", "--name", "ops", "--scope", "admin", "-db", dsn)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, stderr)
	}
	db, err := pg.Open(context.Background(), dsn, pg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	secret := strings.Fields(out)[len(strings.Fields(out))-1]
	if _, err := db.AuthenticateToken(context.Background(), secret); err != nil {
		t.Fatalf("the token is not in PostgreSQL: %v", err)
	}
	if !pg.IsURL("postgresql://x/y") || pg.IsURL("./postgres.db") {
		t.Error("IsURL")
	}
	if got := dbName("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("dbName leaks the password: %s", got)
	}
	if code, _, stderr := runCmd(t, "serve", "-db", dsn, "-db-max-size", "1GiB", "-addr", "127.0.0.1:0"); code == 0 || !strings.Contains(stderr, "SQLite") {
		t.Errorf("-db-max-size on PostgreSQL: exit %d %s", code, stderr)
	}
	var _ store.Store = db
}

// TestClusterFlags: -retention takes days or a duration; the node name
// defaults to host and port.
func TestClusterFlags(t *testing.T) {
	c := clusterConfig{retention: "90d"}
	if err := c.validate("0.0.0.0:8081"); err != nil || c.retentionD != 90*24*time.Hour || !strings.HasSuffix(c.node, ":8081") {
		t.Fatalf("%+v, %v", c, err)
	}
	for _, bad := range []string{"90", "-1d", "soon"} {
		c := clusterConfig{retention: bad}
		if err := c.validate(":1"); err == nil {
			t.Errorf("-retention %q accepted", bad)
		}
		c = clusterConfig{window: bad}
		if err := c.validate(":1"); err == nil || !strings.Contains(err.Error(), "-analysis-window") {
			t.Errorf("-analysis-window %q: %v", bad, err)
		}
	}
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "36h": 36 * time.Hour, "all": 0} {
		c := clusterConfig{window: in}
		var w web.Config
		if err := c.validate(":1"); err != nil {
			t.Fatalf("-analysis-window %q: %v", in, err)
		}
		if c.apply(&w); w.AnalysisWindow != want {
			t.Errorf("-analysis-window %q = %v, want %v", in, w.AnalysisWindow, want)
		}
	}
}
