-- What an input that held no Outlook event looks like ("this is the System
-- log; Outlook events are in the Application log"), shown on the upload.
ALTER TABLE uploads ADD COLUMN looks_like TEXT NOT NULL DEFAULT '';
