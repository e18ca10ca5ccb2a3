-- Diagnosis ids once shown and their successors, recorded changes (issue
-- 15), and probe results (issue 16): the SQLite migrations 0006 and 0008
-- in PostgreSQL's dialect. (Which other uploads held an event, SQLite's
-- event_uploads, is not kept here: deleting an upload removes the events
-- it brought first.)
CREATE TABLE diagnosis_ids (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	value       DOUBLE PRECISION NOT NULL,
	computers   TEXT NOT NULL DEFAULT '',
	first_seen  BIGINT NOT NULL,
	last_seen   BIGINT NOT NULL,
	replaced_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE changes (
	id         BIGSERIAL PRIMARY KEY,
	at_ns      BIGINT NOT NULL,
	note       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE probes (
	id                 BIGSERIAL PRIMARY KEY,
	received_at        BIGINT NOT NULL,
	token              TEXT NOT NULL DEFAULT '',
	computer           TEXT NOT NULL DEFAULT '',
	site               TEXT NOT NULL DEFAULT '',
	target             TEXT NOT NULL,
	timeout_seconds    DOUBLE PRECISION,
	plus_minus_seconds DOUBLE PRECISION,
	alive_max_seconds  DOUBLE PRECISION NOT NULL DEFAULT 0,
	dead_min_seconds   DOUBLE PRECISION,
	drop_kind          TEXT NOT NULL,
	complete           BOOLEAN NOT NULL DEFAULT FALSE,
	started_at         BIGINT NOT NULL,
	finished_at        BIGINT NOT NULL,
	result_json        TEXT NOT NULL
);
CREATE INDEX probes_computer ON probes (lower(computer), finished_at);
