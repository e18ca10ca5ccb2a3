package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"idletrace/store"
)

func TestTokens(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		db := MustOpenDB(t)
		if n, _ := db.CountTokens(ctx); n != 0 {
			t.Fatalf("fresh database has %d tokens", n)
		}
		secret, tok, err := db.CreateToken(ctx, "siem", store.ScopeRead)
		if err != nil {
			t.Fatal(err)
		}
		if len(secret) != len(store.TokenPrefix)+43 || tok.Hint == "" || bytes.Contains([]byte(tok.Hint), []byte(secret[10:])) {
			t.Fatalf("secret %q hint %q", secret, tok.Hint)
		}
		got, err := db.AuthenticateToken(ctx, secret)
		if err != nil || got.ID != tok.ID || !got.Allows(store.ScopeRead) || got.Allows(store.ScopeIngest) {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		ts, _ := db.FindTokens(ctx)
		if len(ts) != 1 || ts[0].LastUsedAt == nil {
			t.Fatalf("tokens: %+v", ts)
		}
		admin := &store.Token{Scope: store.ScopeAdmin}
		if !admin.Allows(store.ScopeRead) || !admin.Allows(store.ScopeIngest) || !admin.Allows(store.ScopeAdmin) {
			t.Fatal("admin must allow everything")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		db := MustOpenDB(t)
		secret, _, _ := db.CreateToken(ctx, "x", store.ScopeRead)
		for _, bad := range []string{"", "itk_", secret + "x", secret[:len(secret)-1], "Bearer " + secret, "' OR 1=1 --"} {
			if _, err := db.AuthenticateToken(ctx, bad); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%q: %v", bad, err)
			}
		}
		if _, err := db.RevokeToken(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		db := MustOpenDB(t)
		secret, tok, _ := db.CreateToken(ctx, "x", store.ScopeAdmin)
		session, _, err := db.CreateSession(ctx, tok.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AuthenticateSession(ctx, session); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RevokeToken(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AuthenticateToken(ctx, secret); !errors.Is(err, store.ErrRevoked) {
			t.Errorf("token: %v", err)
		}
		if _, err := db.AuthenticateSession(ctx, session); err == nil {
			t.Error("the session outlived its token")
		}
		if n, _ := db.CountTokens(ctx); n != 1 {
			t.Errorf("revoked tokens still count: %d", n)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		db := MustOpenDB(t)
		for _, c := range [][2]string{{"", "read"}, {"x", "root"}, {"x", ""}} {
			if _, _, err := db.CreateToken(ctx, c[0], c[1]); err == nil {
				t.Errorf("created %v", c)
			}
		}
	})
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	_, tok, _ := db.CreateToken(ctx, "x", store.ScopeRead)
	now := time.Date(2024, 5, 2, 9, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	s, _, err := db.CreateSession(ctx, tok.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.AuthenticateSession(ctx, s); err != nil || got.ID != tok.ID {
		t.Fatalf("%+v %v", got, err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := db.AuthenticateSession(ctx, s); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: %v", err)
	}
	s2, _, _ := db.CreateSession(ctx, tok.ID, time.Hour)
	if err := db.DeleteSession(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AuthenticateSession(ctx, s2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session: %v", err)
	}
	if _, err := db.AuthenticateSession(ctx, "itk_not_a_session"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a token as a session: %v", err)
	}
}
