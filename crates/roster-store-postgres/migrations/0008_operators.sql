-- Roster schema, version 8: the instance operator, and accounts that are being deleted.
--
-- An operator token manages accounts through the operator API and can do nothing inside one; like
-- personal tokens, only the SHA-256 of its key is kept. An account whose deletion was asked for
-- keeps the time in deleting_since: it is disabled at once and its rows go in the background, in
-- short batches.
CREATE TABLE operator_tokens (
    uuid uuid PRIMARY KEY,
    name TEXT NOT NULL,
    created timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    last_used_at timestamptz,
    key_hash bytea NOT NULL,
    key_prefix TEXT NOT NULL,
    CONSTRAINT operator_tokens_key_hash_key UNIQUE (key_hash)
);

ALTER TABLE accounts ADD COLUMN deleting_since timestamptz;
