package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"idletrace/store"
)

func testTokens(t *testing.T, open Opener) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		db := open(t, nil)
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
		if len(ts) != 1 || ts[0].LastUsedAt == nil || ts[0].Name != "siem" {
			t.Fatalf("tokens: %+v", ts)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		db := open(t, nil)
		secret, _, _ := db.CreateToken(ctx, "x", store.ScopeRead)
		for _, bad := range []string{"", "itk_", secret + "x", secret[:len(secret)-1], "Bearer " + secret, "' OR 1=1 --"} {
			if _, err := db.AuthenticateToken(ctx, bad); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%q: %v", bad, err)
			}
		}
		if _, err := db.RevokeToken(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
		if _, err := db.RevokeToken(ctx, "999"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke unknown id: %v", err)
		}
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		db := open(t, nil)
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
		if again, err := db.RevokeToken(ctx, "1"); err != nil || again.RevokedAt == nil {
			t.Errorf("revoking again: %+v, %v", again, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		db := open(t, nil)
		for _, c := range [][2]string{{"", "read"}, {"x", "root"}, {"x", ""}} {
			var ve *store.ValidationError
			if _, _, err := db.CreateToken(ctx, c[0], c[1]); !errors.As(err, &ve) {
				t.Errorf("created %v: %v, want a *ValidationError", c, err)
			}
		}
	})
	t.Run("ErrTwoActiveNamed", func(t *testing.T) {
		db := open(t, nil)
		db.CreateToken(ctx, "dup", store.ScopeRead)
		db.CreateToken(ctx, "dup", store.ScopeRead)
		if _, err := db.RevokeToken(ctx, "dup"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke an ambiguous name: %v", err)
		}
	})
}

func testSessions(t *testing.T, open Opener) {
	ctx := context.Background()
	now := time.Date(2024, 5, 2, 9, 0, 0, 0, time.UTC)
	db := open(t, func() time.Time { return now })
	_, tok, _ := db.CreateToken(ctx, "x", store.ScopeRead)
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
