-- Upload progress: how many bytes of the input the ingest has read so far,
-- so that a page can show a long server-side ingest moving (GET
-- /api/v1/uploads/{id}). It equals bytes once the upload is finished.
ALTER TABLE uploads ADD COLUMN progress_bytes INTEGER NOT NULL DEFAULT 0;
