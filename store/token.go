package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Token scopes. read and ingest are separate rights; admin implies both.
const (
	ScopeIngest = "ingest"
	ScopeRead   = "read"
	ScopeAdmin  = "admin"
)

// TokenPrefix starts every token, so that secret scanners and people
// recognise one when it leaks into a log or a repository.
const TokenPrefix = "itk_"

// lastUsedEvery is how stale a token's last-used time may get before a use
// writes it again: a write per request would queue behind every ingest.
const lastUsedEvery = time.Minute

// Token is an API token as stored: never the secret itself.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Scope      string     `json:"scope"`
	Hint       string     `json:"hint"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// Allows reports whether the token's scope grants scope: admin grants all.
func (t *Token) Allows(scope string) bool {
	return t.Scope == ScopeAdmin || t.Scope == scope
}

// ValidScope reports whether s is one of the scopes.
func ValidScope(s string) bool {
	return s == ScopeIngest || s == ScopeRead || s == ScopeAdmin
}

// newSecret returns prefix + 32 random bytes in unpadded base64url.
func newSecret(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func secretHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateToken makes a token named name with scope and returns the secret,
// which is not stored and cannot be shown again, with the stored record.
func (db *DB) CreateToken(ctx context.Context, name, scope string) (string, *Token, error) {
	name, err := checkToken(name, scope)
	if err != nil {
		return "", nil, err
	}
	secret, err := newSecret(TokenPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	t := &Token{Name: name, Scope: scope, Hint: TokenHint(secret), CreatedAt: db.Now().UTC().Truncate(time.Second)}
	err = db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, scope, hash, hint, created_at) VALUES (?, ?, ?, ?, ?)`,
			t.Name, t.Scope, secretHash(secret), t.Hint, t.CreatedAt.Unix())
		if err != nil {
			return err
		}
		t.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return secret, t, nil
}

const tokenColumns = `id, name, scope, hint, created_at, last_used_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }, extra ...any) (*Token, error) {
	var t Token
	var created int64
	var used, revoked sql.NullInt64
	if err := sc.Scan(append([]any{&t.ID, &t.Name, &t.Scope, &t.Hint, &created, &used, &revoked}, extra...)...); err != nil {
		return nil, err
	}
	t.CreatedAt = time.Unix(created, 0).UTC()
	if used.Valid {
		u := time.Unix(used.Int64, 0).UTC()
		t.LastUsedAt = &u
	}
	if revoked.Valid {
		r := time.Unix(revoked.Int64, 0).UTC()
		t.RevokedAt = &r
	}
	return &t, nil
}

// checkToken validates a new token's name and scope (CheckToken).
func checkToken(name, scope string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", &ValidationError{Field: "name", Msg: "the token name must have 1 to 100 printable characters"}
	}
	if !ValidScope(scope) {
		return "", errNoScope(scope)
	}
	return name, nil
}

// FindTokens returns every token, revoked ones included, oldest first.
func (db *DB) FindTokens(ctx context.Context) ([]*Token, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	defer rows.Close()
	var out []*Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("find tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// CountTokens returns how many tokens were ever created, revoked ones
// included: once there is one, the server requires authentication.
func (db *DB) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// RevokeToken revokes the token with the given id, or else the one active
// token with that name. Its sessions end with it. Revoking a revoked token
// is not an error.
func (db *DB) RevokeToken(ctx context.Context, idOrName string) (*Token, error) {
	var t *Token
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		if id, perr := strconv.ParseInt(idOrName, 10, 64); perr == nil {
			t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, id))
		} else {
			t, err = findActiveTokenByName(ctx, tx, idOrName)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("token %q: %w", idOrName, ErrNotFound)
		} else if err != nil {
			return err
		}
		if t.RevokedAt != nil {
			return nil
		}
		now := db.Now().UTC().Truncate(time.Second)
		t.RevokedAt = &now
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ?`, now.Unix(), t.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_id = ?`, t.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke token: %w", err)
	}
	return t, nil
}

func findActiveTokenByName(ctx context.Context, tx *sql.Tx, name string) (*Token, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE name = ? AND revoked_at IS NULL`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []*Token
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
		return nil, sql.ErrNoRows
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%d active tokens are named %q: revoke by id", len(found), name)
}

// AuthenticateToken returns the token whose secret is secret: ErrNotFound
// when there is none, ErrRevoked when it was revoked. The lookup goes by the
// secret's SHA-256 (an index probe reveals nothing of the secret); the hash
// found is compared again in constant time. A use updates the token's
// last-used time at most once a minute.
func (db *DB) AuthenticateToken(ctx context.Context, secret string) (*Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 200 {
		return nil, ErrNotFound
	}
	want := secretHash(secret)
	var got []byte
	t, err := scanToken(db.sql.QueryRowContext(ctx, `SELECT `+tokenColumns+`, hash FROM tokens WHERE hash = ?`, want), &got)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("authenticate token: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, ErrNotFound
	}
	if t.RevokedAt != nil {
		return t, ErrRevoked
	}
	db.touchToken(ctx, t)
	return t, nil
}

// touchToken records a use of t unless one was recorded within the last
// minute. A failure to record is not a failure to authenticate.
func (db *DB) touchToken(ctx context.Context, t *Token) {
	now := db.Now().UTC().Truncate(time.Second)
	if t.LastUsedAt != nil && now.Sub(*t.LastUsedAt) < lastUsedEvery {
		return
	}
	t.LastUsedAt = &now
	db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, now.Unix(), t.ID)
		return err
	})
}
