-- Roster schema, version 5: a narrow index of each account's users in id order (SQLite appends the
-- rowid, which is the id). Counting an account's users and skipping to a deep page read this
-- index alone instead of every user's row.
CREATE INDEX users_account ON users (account_id);
