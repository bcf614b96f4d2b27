-- Roster schema, version 12 (SQLite): two-factor sign-in to the console (TOTP, RFC 6238).
-- A user's TOTP secret is sealed (the server must use it to check codes; see roster-core's seal
-- module); until its first code is confirmed it is only being set up. last_step is the time step
-- of the last code used, so no code signs in twice. Recovery codes are kept as SHA-256 hashes
-- (each is 80 random bits) and deleted when used.
CREATE TABLE user_totp (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    confirmed BOOLEAN NOT NULL,
    last_step INTEGER,
    created TEXT NOT NULL
);
CREATE INDEX user_totp_account ON user_totp (account_id);

CREATE TABLE recovery_codes (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- A session's stage: 'full', or signed in with a password and still to give a code
-- ('second_factor') or to set up two-factor sign-in the account requires ('enroll').
ALTER TABLE console_sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
