-- Roster schema, version 8 (SQLite): the instance operator, and accounts that are being deleted.
--
-- An operator token manages accounts through the operator API and can do nothing inside one; like
-- personal tokens, only the SHA-256 of its key is kept (32 bytes). An account whose deletion was
-- asked for keeps the time in deleting_since: it is disabled at once and its rows go in the
-- background, in short batches.
CREATE TABLE operator_tokens (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_used_at TEXT,
    key_hash BLOB NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL
);

ALTER TABLE accounts ADD COLUMN deleting_since TEXT;
