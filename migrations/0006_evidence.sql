-- Evidence (issue 15): stable diagnosis ids, which uploads brought each
-- event, and recorded changes for before/after.

-- Every diagnosis id the server has shown, with what it stood for, so that
-- a link pasted into a ticket keeps answering after the data grow (the id
-- itself, or a redirect to the diagnosis that replaced it).
CREATE TABLE diagnosis_ids (
	id          TEXT    PRIMARY KEY,
	kind        TEXT    NOT NULL,
	value       REAL    NOT NULL DEFAULT 0, -- seconds (idle timeout) or unix start (outage)
	computers   TEXT    NOT NULL DEFAULT '', -- lower-case names, one a line
	first_seen  INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL,
	replaced_by TEXT    NOT NULL DEFAULT ''
);

-- The other uploads that also held an event (events.upload_id is the first
-- one): deleting an upload removes only what no other upload brought.
CREATE TABLE event_uploads (
	seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
	upload_id INTEGER NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
	PRIMARY KEY (seq, upload_id)
) WITHOUT ROWID;
CREATE INDEX event_uploads_upload ON event_uploads (upload_id);

-- Changes made to the network ("raised the F5 idle timeout to 7200 s"):
-- the diagnosis before and after each is compared.
CREATE TABLE changes (
	id         INTEGER PRIMARY KEY,
	at_ns      INTEGER NOT NULL,
	note       TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
