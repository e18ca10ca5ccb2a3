-- Uploads: one row per ingested input (file upload, API batch, analyze run).
CREATE TABLE uploads (
	id               INTEGER PRIMARY KEY,
	name             TEXT    NOT NULL,
	source           TEXT    NOT NULL DEFAULT 'upload',
	format           TEXT    NOT NULL DEFAULT '',
	bytes            INTEGER NOT NULL DEFAULT 0,
	records          INTEGER NOT NULL DEFAULT 0,
	outlook_events   INTEGER NOT NULL DEFAULT 0,
	new_events       INTEGER NOT NULL DEFAULT 0,
	duplicate_events INTEGER NOT NULL DEFAULT 0,
	warnings         TEXT    NOT NULL DEFAULT '[]',
	status           TEXT    NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
	error            TEXT    NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	finished_at      INTEGER
);

-- Events: Outlook events from the Application channel. seq is the ingest
-- sequence (API cursors page on it). dedup_key implements SPEC §4:
-- computer (case-insensitive) + channel + provider + record id + time to the
-- second; without a record id, computer + provider + event id + time to the
-- second + message hash.
CREATE TABLE events (
	seq          INTEGER PRIMARY KEY,
	computer     TEXT    NOT NULL,
	computer_key TEXT    NOT NULL,
	channel      TEXT    NOT NULL,
	provider     TEXT    NOT NULL,
	event_id     INTEGER NOT NULL,
	qualifiers   INTEGER,
	level        INTEGER NOT NULL DEFAULT 0,
	record_id    INTEGER,
	time_ns      INTEGER NOT NULL,
	precision_ns INTEGER NOT NULL,
	message      TEXT    NOT NULL DEFAULT '',
	dedup_key    BLOB    NOT NULL UNIQUE,
	upload_id    INTEGER REFERENCES uploads (id) ON DELETE SET NULL,
	ingested_at  INTEGER NOT NULL
);

CREATE INDEX events_computer_time ON events (computer_key, time_ns);
CREATE INDEX events_time ON events (time_ns);
CREATE INDEX events_upload ON events (upload_id);
