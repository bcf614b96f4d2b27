-- Roster schema, version 5: a narrow index of each account's users in id order. Counting an
-- account's users and skipping to a deep page scan this index alone (index-only once vacuumed)
-- instead of every user's row.
CREATE INDEX users_account ON users (account_id, id);
