-- The index by computer leads with the event's time slot (time_ns >> 42:
-- 2^42 ns, about 73 minutes) before the computer (issue 14). Ordered by
-- computer first, a batch of agent events from 2 000 computers put each
-- event on its own page of that index: a 4 KiB page written to the WAL per
-- event, re-read and checkpointed, which held SQLite ingest to 12–16 k
-- events/s past a few million events (and 124 k/s without the index).
-- Ordered by slot first, a batch lands in the few pages of the current
-- slot. A computer's events are then found slot by slot: event_slots
-- lists the slots that hold events, and a query by computer looks up each
-- (see EventFilter.where).
DROP INDEX events_computer_time;
ALTER TABLE events ADD COLUMN slot INTEGER GENERATED ALWAYS AS (time_ns >> 42) VIRTUAL;
CREATE INDEX events_slot_computer ON events (slot, computer_key, time_ns);
CREATE TABLE event_slots (slot INTEGER PRIMARY KEY);
INSERT INTO event_slots (slot) SELECT DISTINCT slot FROM events;
