package web

import (
	"crypto/sha256"
	"sync"
	"time"

	"idletrace/store"
)

// tokenCacheTTL is how long a bearer token's authentication is reused
// without asking the database again: the longest a token revoked on
// another node (or by `server token revoke`) keeps working here. A
// revocation through this node's API takes effect at once.
const tokenCacheTTL = time.Second

// tokenCacheMax bounds the cache: past it, it starts over.
const tokenCacheMax = 4096

// tokenCache remembers which token a bearer secret authenticated as, for
// tokenCacheTTL. Under load every API request carries one, and looking it
// up in the database each time cost as much CPU as serving the report.
// Only successes are kept (a wrong or revoked secret asks the database
// each time, behind the limiter of failed attempts), under the secret's
// SHA-256, not the secret.
type tokenCache struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]cachedToken
	now func() time.Time
}

type cachedToken struct {
	t  store.Token
	at time.Time
}

// get returns a copy of the token secret authenticated as within the TTL.
func (c *tokenCache) get(secret string) (*store.Token, bool) {
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || c.clock().Sub(e.at) >= tokenCacheTTL {
		return nil, false
	}
	t := e.t
	return &t, true
}

// put records that secret authenticated as t.
func (c *tokenCache) put(secret string, t *store.Token) {
	k := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= tokenCacheMax {
		c.m = map[[sha256.Size]byte]cachedToken{}
	}
	c.m[k] = cachedToken{t: *t, at: c.clock()}
}

// forget drops every entry (a token was revoked).
func (c *tokenCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

func (c *tokenCache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
