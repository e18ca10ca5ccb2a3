-- Probe results (server probe --post, POST /api/v1/probes): a path's idle
-- timeout measured directly from one computer. The numbers a page or a
-- diagnosis needs are columns; the whole posted result is kept as JSON.
CREATE TABLE probes (
	id                 INTEGER PRIMARY KEY,
	received_at        INTEGER NOT NULL,
	token              TEXT NOT NULL DEFAULT '',
	computer           TEXT NOT NULL DEFAULT '',
	site               TEXT NOT NULL DEFAULT '',
	target             TEXT NOT NULL,
	timeout_seconds    REAL,
	plus_minus_seconds REAL,
	alive_max_seconds  REAL NOT NULL DEFAULT 0,
	dead_min_seconds   REAL,
	drop_kind          TEXT NOT NULL,
	complete           INTEGER NOT NULL DEFAULT 0,
	started_at         INTEGER NOT NULL,
	finished_at        INTEGER NOT NULL,
	result_json        TEXT NOT NULL
);
CREATE INDEX probes_computer ON probes (computer COLLATE NOCASE, finished_at);
