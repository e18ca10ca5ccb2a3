package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SessionPrefix starts every session cookie value.
const SessionPrefix = "its_"

// CreateSession starts a dashboard session for the token and returns the
// cookie value; only its hash is stored. Expired sessions are swept here.
func (db *DB) CreateSession(ctx context.Context, tokenID int64, ttl time.Duration) (string, time.Time, error) {
	secret, err := newSecret(SessionPrefix)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	now := db.Now().UTC()
	expires := now.Add(ttl).Truncate(time.Second)
	err = db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, now.Unix()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, token_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			secretHash(secret), tokenID, now.Unix(), expires.Unix())
		return err
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	return secret, expires, nil
}

// AuthenticateSession returns the token a live session belongs to:
// ErrNotFound for an unknown or expired session, ErrRevoked when its token
// was revoked.
func (db *DB) AuthenticateSession(ctx context.Context, secret string) (*Token, error) {
	if !strings.HasPrefix(secret, SessionPrefix) || len(secret) > 200 {
		return nil, ErrNotFound
	}
	t, err := scanToken(db.sql.QueryRowContext(ctx, `SELECT t.id, t.name, t.scope, t.hint, t.created_at, t.last_used_at, t.revoked_at
		FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE s.hash = ? AND s.expires_at > ?`,
		secretHash(secret), db.Now().Unix()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("authenticate session: %w", err)
	}
	if t.RevokedAt != nil {
		return t, ErrRevoked
	}
	db.touchToken(ctx, t)
	return t, nil
}

// DeleteSession ends a session; an unknown one is not an error.
func (db *DB) DeleteSession(ctx context.Context, secret string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, secretHash(secret))
		return err
	})
}
