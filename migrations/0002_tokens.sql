-- API tokens: only the SHA-256 of a token is stored; the token itself is
-- shown once, when it is created. Tokens are revoked, never deleted, so
-- that once one has existed the server keeps requiring authentication.
CREATE TABLE tokens (
	id           INTEGER PRIMARY KEY,
	name         TEXT    NOT NULL,
	scope        TEXT    NOT NULL CHECK (scope IN ('ingest', 'read', 'admin')),
	hash         BLOB    NOT NULL UNIQUE,
	hint         TEXT    NOT NULL, -- the first characters, to recognise it in lists
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
);

-- Dashboard sessions made by logging in with a token. Only the SHA-256 of
-- the cookie value is stored; revoking the token ends its sessions.
CREATE TABLE sessions (
	hash         BLOB    PRIMARY KEY,
	token_id     INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
);

CREATE INDEX sessions_token ON sessions (token_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Diagnoses already forwarded to a push target (Splunk HEC, webhook), so
-- that a restart does not send them again.
CREATE TABLE pushed_diagnoses (
	target       TEXT    NOT NULL,
	diagnosis_id TEXT    NOT NULL,
	pushed_at    INTEGER NOT NULL,
	PRIMARY KEY (target, diagnosis_id)
);
