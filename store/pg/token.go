package pg

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"idletrace/store"
)

// CreateToken makes a token named name with scope and returns the secret,
// which is not stored and cannot be shown again, with the stored record.
func (db *DB) CreateToken(ctx context.Context, name, scope string) (string, *store.Token, error) {
	name, err := store.CheckToken(name, scope)
	if err != nil {
		return "", nil, err
	}
	secret, err := store.NewSecret(store.TokenPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	t := &store.Token{Name: name, Scope: scope, Hint: store.TokenHint(secret), CreatedAt: db.Now().UTC().Truncate(time.Second)}
	err = db.pool.QueryRow(ctx, `INSERT INTO tokens (name, scope, hash, hint, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		t.Name, t.Scope, store.SecretHash(secret), t.Hint, t.CreatedAt.Unix()).Scan(&t.ID)
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", classify(err))
	}
	return secret, t, nil
}

const tokenColumns = `id, name, scope, hint, created_at, last_used_at, revoked_at`

func scanToken(row pgx.Row, extra ...any) (*store.Token, error) {
	var t store.Token
	var created int64
	var used, revoked *int64
	if err := row.Scan(append([]any{&t.ID, &t.Name, &t.Scope, &t.Hint, &created, &used, &revoked}, extra...)...); err != nil {
		return nil, err
	}
	t.CreatedAt = time.Unix(created, 0).UTC()
	if used != nil {
		u := time.Unix(*used, 0).UTC()
		t.LastUsedAt = &u
	}
	if revoked != nil {
		r := time.Unix(*revoked, 0).UTC()
		t.RevokedAt = &r
	}
	return &t, nil
}

// FindTokens returns every token, revoked ones included, oldest first.
func (db *DB) FindTokens(ctx context.Context) ([]*store.Token, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", classify(err))
	}
	defer rows.Close()
	var out []*store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("find tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find tokens: %w", classify(err))
	}
	return out, nil
}

// CountTokens returns how many tokens were ever created, revoked ones
// included.
func (db *DB) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", classify(err))
	}
	return n, nil
}

// RevokeToken revokes the token with the given id, or else the one active
// token with that name, and ends its sessions. Revoking a revoked token is
// not an error.
func (db *DB) RevokeToken(ctx context.Context, idOrName string) (*store.Token, error) {
	var t *store.Token
	err := db.write(ctx, func(tx pgx.Tx) error {
		var err error
		if id, perr := strconv.ParseInt(idOrName, 10, 64); perr == nil {
			t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = $1 FOR UPDATE`, id))
		} else {
			t, err = findActiveTokenByName(ctx, tx, idOrName)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("token %q: %w", idOrName, store.ErrNotFound)
		} else if err != nil {
			return err
		}
		if t.RevokedAt != nil {
			return nil
		}
		now := db.Now().UTC().Truncate(time.Second)
		t.RevokedAt = &now
		if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2`, now.Unix(), t.ID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE token_id = $1`, t.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke token: %w", err)
	}
	return t, nil
}

func findActiveTokenByName(ctx context.Context, tx pgx.Tx, name string) (*store.Token, error) {
	rows, err := tx.Query(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE name = $1 AND revoked_at IS NULL FOR UPDATE`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []*store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		found = append(found, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, pgx.ErrNoRows
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%d active tokens are named %q: revoke by id", len(found), name)
}

// AuthenticateToken returns the token whose secret is secret:
// store.ErrNotFound when there is none, store.ErrRevoked when it was
// revoked. The lookup goes by the secret's SHA-256; the hash found is
// compared again in constant time.
func (db *DB) AuthenticateToken(ctx context.Context, secret string) (*store.Token, error) {
	if !strings.HasPrefix(secret, store.TokenPrefix) || len(secret) > 200 {
		return nil, store.ErrNotFound
	}
	want := store.SecretHash(secret)
	var got []byte
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenColumns+`, hash FROM tokens WHERE hash = $1`, want), &got)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("authenticate token: %w", classify(err))
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, store.ErrNotFound
	}
	if t.RevokedAt != nil {
		return t, store.ErrRevoked
	}
	db.touchToken(ctx, t)
	return t, nil
}

// touchToken records a use of t unless one was recorded within
// store.LastUsedEvery. A failure to record is not a failure to
// authenticate.
func (db *DB) touchToken(ctx context.Context, t *store.Token) {
	now := db.Now().UTC().Truncate(time.Second)
	if t.LastUsedAt != nil && now.Sub(*t.LastUsedAt) < store.LastUsedEvery {
		return
	}
	t.LastUsedAt = &now
	if !db.readOnly {
		db.pool.Exec(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, now.Unix(), t.ID)
	}
}

// CreateSession starts a dashboard session for the token and returns the
// cookie value; only its hash is stored. Expired sessions are swept here.
func (db *DB) CreateSession(ctx context.Context, tokenID int64, ttl time.Duration) (string, time.Time, error) {
	secret, err := store.NewSecret(store.SessionPrefix)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	now := db.Now().UTC()
	expires := now.Add(ttl).Truncate(time.Second)
	err = db.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now.Unix()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (hash, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			store.SecretHash(secret), tokenID, now.Unix(), expires.Unix())
		return err
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	return secret, expires, nil
}

// AuthenticateSession returns the token a live session belongs to:
// store.ErrNotFound for an unknown or expired session, store.ErrRevoked
// when its token was revoked.
func (db *DB) AuthenticateSession(ctx context.Context, secret string) (*store.Token, error) {
	if !strings.HasPrefix(secret, store.SessionPrefix) || len(secret) > 200 {
		return nil, store.ErrNotFound
	}
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT t.id, t.name, t.scope, t.hint, t.created_at, t.last_used_at, t.revoked_at
		FROM sessions s JOIN tokens t ON t.id = s.token_id WHERE s.hash = $1 AND s.expires_at > $2`,
		store.SecretHash(secret), db.Now().Unix()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("authenticate session: %w", classify(err))
	}
	if t.RevokedAt != nil {
		return t, store.ErrRevoked
	}
	db.touchToken(ctx, t)
	return t, nil
}

// DeleteSession ends a session; an unknown one is not an error.
func (db *DB) DeleteSession(ctx context.Context, secret string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, store.SecretHash(secret)); err != nil {
		return fmt.Errorf("delete session: %w", classify(err))
	}
	return nil
}

// PushedDiagnoses returns the ids of the diagnoses already forwarded to
// target.
func (db *DB) PushedDiagnoses(ctx context.Context, target string) (map[string]bool, error) {
	rows, err := db.pool.Query(ctx, `SELECT diagnosis_id FROM pushed_diagnoses WHERE target = $1`, target)
	if err != nil {
		return nil, fmt.Errorf("pushed diagnoses: %w", classify(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pushed diagnoses: %w", classify(err))
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// MarkDiagnosisPushed records that diagnosis id reached target.
func (db *DB) MarkDiagnosisPushed(ctx context.Context, target, id string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO pushed_diagnoses (target, diagnosis_id, pushed_at) VALUES ($1, $2, $3)
		ON CONFLICT (target, diagnosis_id) DO NOTHING`, target, id, db.Now().Unix())
	if err != nil {
		return fmt.Errorf("mark diagnosis %s pushed: %w", id, classify(err))
	}
	return nil
}
