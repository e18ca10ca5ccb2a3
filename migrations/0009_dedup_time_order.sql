-- The stored dedup key leads with the event's unix second (8 bytes, big
-- endian) before store.DedupKey's 16-byte hash (issue 14). The hash
-- already covers that second, so uniqueness is unchanged, but the UNIQUE
-- index is now ordered by time: a batch of recent events (what agents
-- send) inserts into a few pages at the index's right edge instead of one
-- random page per event, which is what made ingest slow down as the table
-- grew (every batch rewrote ~one 4 KiB page per event to the WAL).
UPDATE events SET dedup_key =
	unhex(printf('%016X', (time_ns - ((time_ns % 1000000000 + 1000000000) % 1000000000)) / 1000000000) || hex(dedup_key))
WHERE length(dedup_key) = 16;
-- (Times outside 1678–2262 do not fit time_ns; for those the second
-- derived here may differ from the one InsertEvents uses, and such an
-- event sent again is stored once more.)
