-- Agent days: agents and the Beats listener count their batches on one
-- upload row per (source, agent, UTC day). agent_day names that row
-- ("source/agent · day"), so it is found and counted with SQL (an upsert
-- and increments in one transaction) instead of a process-local cache.
-- Other uploads leave it NULL (NULLs never collide in a UNIQUE index).
ALTER TABLE uploads ADD COLUMN agent_day TEXT;

-- Rows of agent days written before this migration: the newest row of each
-- name carries on.
UPDATE uploads SET agent_day = source || '/' || name
WHERE id IN (SELECT MAX(id) FROM uploads WHERE source IN ('agent', 'beats') AND status = 'done' GROUP BY source, name);

CREATE UNIQUE INDEX uploads_agent_day ON uploads (agent_day);
