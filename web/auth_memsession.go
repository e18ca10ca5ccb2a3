package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"idletrace/store"
)

// memSessionPrefix starts the value of a session kept in memory.
const memSessionPrefix = "itm_"

// maxMemSessions bounds the sessions kept in memory.
const maxMemSessions = 10_000

// memSessions keeps dashboard sessions in memory when the database cannot
// store them (-db-read-only, a read-only file): people can still log in to
// an archive. They end with the process, or after the session lifetime;
// only their hash is kept, and the token is checked again on every use (a
// token revoked in the file by another process ends them too).
type memSessions struct {
	mu sync.Mutex
	m  map[[32]byte]memSession
}

type memSession struct {
	tokenID int64
	expires time.Time
}

// create starts a session for the token and returns the cookie value.
func (ms *memSessions) create(tokenID int64, ttl time.Duration) (string, time.Time, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	secret := memSessionPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	now := time.Now()
	expires := now.Add(ttl).Truncate(time.Second)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.m == nil {
		ms.m = map[[32]byte]memSession{}
	}
	for h, s := range ms.m {
		if !now.Before(s.expires) {
			delete(ms.m, h)
		}
	}
	if len(ms.m) >= maxMemSessions {
		return "", time.Time{}, errors.New("create session: too many sessions in memory")
	}
	ms.m[sha256.Sum256([]byte(secret))] = memSession{tokenID: tokenID, expires: expires}
	return secret, expires, nil
}

// authenticate returns the token of a live session: ErrNotFound for an
// unknown or expired one, ErrRevoked when its token was revoked.
func (ms *memSessions) authenticate(ctx context.Context, db store.Store, secret string) (*store.Token, error) {
	h := sha256.Sum256([]byte(secret))
	ms.mu.Lock()
	s, ok := ms.m[h]
	ms.mu.Unlock()
	if !ok || !time.Now().Before(s.expires) {
		return nil, store.ErrNotFound
	}
	tokens, err := db.FindTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("authenticate session: %w", err)
	}
	for _, t := range tokens {
		if t.ID == s.tokenID {
			if t.RevokedAt != nil {
				return t, store.ErrRevoked
			}
			return t, nil
		}
	}
	return nil, store.ErrNotFound
}

// remove ends a session; an unknown one is not an error.
func (ms *memSessions) remove(secret string) {
	ms.mu.Lock()
	delete(ms.m, sha256.Sum256([]byte(secret)))
	ms.mu.Unlock()
}

// isMemSession reports whether a cookie value names a memory session.
func isMemSession(secret string) bool { return strings.HasPrefix(secret, memSessionPrefix) }

// createSession starts a session in the database, or in memory when the
// database cannot be written.
func (s *access) createSession(ctx context.Context, tokenID int64) (string, time.Time, error) {
	secret, expires, err := s.db.CreateSession(ctx, tokenID, sessionTTL)
	if errors.Is(err, store.ErrReadOnly) {
		return s.mem.create(tokenID, sessionTTL)
	}
	return secret, expires, err
}

// authenticateSession finds a session's token, in memory or the database.
func (s *access) authenticateSession(ctx context.Context, secret string) (*store.Token, error) {
	if isMemSession(secret) {
		return s.mem.authenticate(ctx, s.db, secret)
	}
	return s.db.AuthenticateSession(ctx, secret)
}

// deleteSession ends a session. A database session of a database that
// cannot be written stays there until it expires (it is nothing the
// client still holds: the cookie is cleared).
func (s *access) deleteSession(ctx context.Context, secret string) error {
	if isMemSession(secret) {
		s.mem.remove(secret)
		return nil
	}
	if err := s.db.DeleteSession(ctx, secret); err != nil && !errors.Is(err, store.ErrReadOnly) {
		return err
	}
	return nil
}
