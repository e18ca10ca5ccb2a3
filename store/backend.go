package store

import "fmt"

// The helpers below are what another backend (store/pg) shares with the
// SQLite one, so that both hash secrets, check token fields and intern
// names the same way.

// NewSecret returns prefix followed by 32 random bytes in unpadded
// base64url: a token or session secret.
func NewSecret(prefix string) (string, error) { return newSecret(prefix) }

// SecretHash is what a backend stores of a token or session secret: its
// SHA-256.
func SecretHash(secret string) []byte { return secretHash(secret) }

// CheckToken validates a new token's name and scope as CreateToken does,
// returning the trimmed name or a *ValidationError.
func CheckToken(name, scope string) (string, error) {
	return checkToken(name, scope)
}

// TokenHint is the first characters of a secret, shown in token lists.
func TokenHint(secret string) string { return secret[:len(TokenPrefix)+6] + "…" }

// LastUsedEvery is how stale a token's last-used time may get before a use
// records it again.
const LastUsedEvery = lastUsedEvery

// Intern returns the one string the interner holds equal to b, adding it
// when new (b is not kept).
func (in *Interner) Intern(b []byte) string { return in.bytes(b) }

// errNoScope formats the message of an unknown scope.
func errNoScope(scope string) error {
	return &ValidationError{Field: "scope", Msg: fmt.Sprintf("unknown scope %q: want ingest, read or admin", scope)}
}
