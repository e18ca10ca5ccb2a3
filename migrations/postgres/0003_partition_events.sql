-- Events range-partitioned by week of event time (issue 14), so that
-- retention drops whole weeks (store/pg DeleteEventsBefore) instead of
-- deleting billions of rows, and which uploads also held an event
-- (event_uploads, as on SQLite since its migration 0006), so that deleting
-- an upload keeps what another upload brought too.
--
-- The partition key is time_s, the event time in unix seconds (floor), set
-- by InsertEvents. A unique index on a partitioned table must contain the
-- partition key, and an expression (time_ns / 10^9) cannot be one, hence a
-- column. dedup_key (store.DedupKey) hashes the time truncated to the
-- second, so one key always has one time_s: UNIQUE (time_s, dedup_key) is
-- exactly UNIQUE (dedup_key), and every copy of an event lands in the same
-- partition (boundaries are whole seconds). time_s leads the index, so that
-- a batch of recent events (agents send the last minutes) inserts into a
-- few pages at its right edge rather than into random pages of a random
-- hash's index: what kept ingest from slowing down as the table grows.
--
-- Weeks start on Monday 00:00 UTC and are named events_wYYYYMMDD after it.
-- A week's partition is created on demand (events_ensure_partition, called
-- by InsertEvents under the seq advisory lock) for event times from 104
-- weeks before the current week to 4 weeks after it; other times (a clock
-- in 2099, a log from 1601) go to events_default, whose rows move to their
-- week's partition when one is created. Why weeks: with 30–90 days kept,
-- 5–14 partitions (seq-ordered reads merge one index scan per partition,
-- so not days), and retention leaves at most a week of old rows to delete
-- row by row (so not months, which at a billion events a month would be a
-- huge DELETE).

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE events_unpartitioned DROP CONSTRAINT events_pkey;
ALTER TABLE events_unpartitioned DROP CONSTRAINT events_dedup_key_key;
DROP INDEX events_computer_time;
DROP INDEX events_time;
DROP INDEX events_upload;

CREATE TABLE events (
	seq          BIGINT   NOT NULL,
	computer     TEXT     NOT NULL,
	computer_key TEXT     NOT NULL,
	channel      TEXT     NOT NULL,
	provider     TEXT     NOT NULL,
	event_id     INTEGER  NOT NULL,
	qualifiers   INTEGER,
	level        INTEGER  NOT NULL DEFAULT 0,
	record_id    BIGINT,
	time_ns      BIGINT   NOT NULL,
	time_s       BIGINT   NOT NULL,
	precision_ns BIGINT   NOT NULL,
	message      TEXT     NOT NULL DEFAULT '',
	dedup_key    BYTEA    NOT NULL,
	upload_id    BIGINT   REFERENCES uploads (id) ON DELETE SET NULL,
	ingested_at  BIGINT   NOT NULL,
	CONSTRAINT events_pkey PRIMARY KEY (seq, time_s),
	CONSTRAINT events_dedup UNIQUE (time_s, dedup_key)
) PARTITION BY RANGE (time_s);

CREATE INDEX events_computer_time ON events (computer_key, time_ns);
CREATE INDEX events_time ON events (time_ns);
CREATE INDEX events_upload ON events (upload_id);

CREATE TABLE events_default PARTITION OF events DEFAULT;

-- events_week_start is the Monday 00:00 UTC (unix seconds) of the week
-- holding unix second s (1970-01-05 was a Monday).
CREATE FUNCTION events_week_start(s BIGINT) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS
$$ SELECT s - (((s - 345600) % 604800) + 604800) % 604800 $$;

-- events_ensure_partition creates the partition of the week starting at lo
-- (a events_week_start value) unless it exists, moving the rows of that
-- week out of events_default, and reports whether it created it. It is
-- attached with a CHECK constraint in place, so that the attach does not
-- scan it, and attaching takes only a SHARE UPDATE EXCLUSIVE lock on
-- events (reads and inserts go on). The caller holds the seq advisory lock.
CREATE FUNCTION events_ensure_partition(lo BIGINT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
	hi   BIGINT := lo + 604800;
	name TEXT   := 'events_w' || to_char(to_timestamp(lo) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
	IF lo <> events_week_start(lo) THEN
		RAISE EXCEPTION 'events_ensure_partition: % is not the start of a week', lo;
	END IF;
	IF to_regclass(name) IS NOT NULL THEN
		RETURN FALSE;
	END IF;
	EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS)', name);
	EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (time_s >= %s AND time_s < %s)', name, name || '_range', lo, hi);
	EXECUTE format('WITH moved AS (DELETE FROM events_default WHERE time_s >= %s AND time_s < %s RETURNING *) INSERT INTO %I SELECT * FROM moved',
		lo, hi, name);
	EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', name, lo, hi);
	EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', name, name || '_range');
	RETURN TRUE;
END $$;

-- The weeks of the stored events within the window get their partitions
-- (the same window as store/pg's partitionsBack and partitionsAhead), then
-- the events move over, each to its week or to events_default.
DO $$
DECLARE
	now_week BIGINT := events_week_start(extract(epoch FROM now())::BIGINT);
	w        BIGINT;
BEGIN
	FOR w IN
		SELECT DISTINCT events_week_start((time_ns - (((time_ns % 1000000000) + 1000000000) % 1000000000)) / 1000000000)
		FROM events_unpartitioned
	LOOP
		IF w >= now_week - 104 * 604800 AND w <= now_week + 4 * 604800 THEN
			PERFORM events_ensure_partition(w);
		END IF;
	END LOOP;
END $$;

INSERT INTO events (seq, computer, computer_key, channel, provider, event_id, qualifiers, level, record_id,
	time_ns, time_s, precision_ns, message, dedup_key, upload_id, ingested_at)
SELECT seq, computer, computer_key, channel, provider, event_id, qualifiers, level, record_id,
	time_ns, (time_ns - (((time_ns % 1000000000) + 1000000000) % 1000000000)) / 1000000000, precision_ns,
	message, dedup_key, upload_id, ingested_at
FROM events_unpartitioned;

DROP TABLE events_unpartitioned;

-- The other uploads that also held an event (events.upload_id is the one
-- that brought it first), as SQLite's event_uploads. No foreign key to
-- events (seq alone is not unique on a partitioned table): the store
-- deletes these rows with their events (DeleteUpload, DeleteEventsBefore).
CREATE TABLE event_uploads (
	seq       BIGINT NOT NULL,
	upload_id BIGINT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
	PRIMARY KEY (seq, upload_id)
);
CREATE INDEX event_uploads_upload ON event_uploads (upload_id);
