-- The live analysis's newest report (gzipped JSON), so that a node that
-- starts answers its first report at once while it reads the events
-- again. One row.
CREATE TABLE analysis_snapshot (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	seq             BIGINT NOT NULL,
	upload          BIGINT NOT NULL,
	at_ns           BIGINT NOT NULL,
	window_start_ns BIGINT NOT NULL,
	events          BIGINT NOT NULL,
	computers       BIGINT NOT NULL,
	uploads         BIGINT NOT NULL,
	first_ns        BIGINT NOT NULL,
	last_ns         BIGINT NOT NULL,
	report          BYTEA NOT NULL
);

-- Per client (token, else address), the change mark of its newest write:
-- a read on another node waits for an analysis that holds it
-- (read-your-writes across nodes).
CREATE TABLE client_marks (
	client TEXT PRIMARY KEY,
	seq    BIGINT NOT NULL,
	upload BIGINT NOT NULL
);
