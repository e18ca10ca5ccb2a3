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
