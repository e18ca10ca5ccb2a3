-- The live analysis's newest report (gzipped JSON), so that a node that
-- starts answers its first report at once while it reads the events
-- again. One row.
CREATE TABLE analysis_snapshot (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	seq             INTEGER NOT NULL,
	upload          INTEGER NOT NULL,
	at_ns           INTEGER NOT NULL,
	window_start_ns INTEGER NOT NULL,
	events          INTEGER NOT NULL,
	computers       INTEGER NOT NULL,
	uploads         INTEGER NOT NULL,
	first_ns        INTEGER NOT NULL,
	last_ns         INTEGER NOT NULL,
	report          BLOB NOT NULL
);

-- Per client (token, else address), the change mark of its newest write:
-- a read on another node of a shared database waits for an analysis that
-- holds it (read-your-writes across nodes).
CREATE TABLE client_marks (
	client TEXT PRIMARY KEY,
	seq    INTEGER NOT NULL,
	upload INTEGER NOT NULL
);
