package web_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"idletrace/web"
)

// TestBearerTokenCache: a bearer token's authentication is reused for a
// moment, but a token revoked through this node's API stops working at
// once, and one revoked elsewhere (another node, `server token revoke`)
// soon after.
func TestBearerTokenCache(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	ctx := context.Background()
	admin := newClient(t, ts.URL, mustToken(t, ts.db, "admin", "admin"))
	secret, tok, err := ts.db.CreateToken(ctx, "reader", "read")
	if err != nil {
		t.Fatal(err)
	}
	reader := newClient(t, ts.URL, secret)
	for range 3 {
		if resp, b := reader.get("/api/v1/events?limit=1"); resp.StatusCode != 200 {
			t.Fatalf("read with a fresh token: %d %s", resp.StatusCode, b)
		}
	}
	if resp, b := admin.do("DELETE", "/api/v1/tokens/"+strconv.FormatInt(tok.ID, 10), nil, nil); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	if resp, b := reader.get("/api/v1/events?limit=1"); resp.StatusCode != 401 || errorCode(t, b) != "token_revoked" {
		t.Fatalf("right after its revocation on this node: %d %s", resp.StatusCode, b)
	}

	secret2, _, err := ts.db.CreateToken(ctx, "reader2", "read")
	if err != nil {
		t.Fatal(err)
	}
	reader2 := newClient(t, ts.URL, secret2)
	if resp, b := reader2.get("/api/v1/events?limit=1"); resp.StatusCode != 200 {
		t.Fatalf("read with the second token: %d %s", resp.StatusCode, b)
	}
	if _, err := ts.db.RevokeToken(ctx, "reader2"); err != nil { // as another node would
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, b := reader2.get("/api/v1/events?limit=1")
		if resp.StatusCode == 401 {
			if code := errorCode(t, b); code != "token_revoked" {
				t.Fatalf("revoked elsewhere: %s", code)
			}
			break
		}
		if resp.StatusCode != 200 || time.Now().After(deadline) {
			t.Fatalf("a token revoked elsewhere still answers %d after 10 s", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
