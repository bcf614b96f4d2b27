-- Roster schema, version 11: the console's sign-in. A user may have a password (its Argon2id hash
-- in PHC form; the password itself is never kept). Console sessions and one-time links to choose
-- a password are kept by the SHA-256 of their keys, like tokens, so a copy of the database opens
-- no session.
ALTER TABLE users ADD COLUMN password_hash TEXT;
-- Sign-in finds an email's users in every account.
CREATE INDEX users_email_folded ON users (email_folded);

CREATE TABLE console_sessions (
    key_hash bytea PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

CREATE TABLE password_links (
    key_hash bytea PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX password_links_user ON password_links (user_id);

-- A user's or group's provisioning history, on its console page.
CREATE INDEX provisioning_log_resource ON provisioning_log (account_id, resource_type, resource_id, id);
