-- Roster schema, version 7 (SQLite): the token key hash becomes the 32 bytes themselves (it was
-- hex text), as on PostgreSQL. SQLite has no timestamp or uuid types: those stay canonical text
-- (UTC, microseconds; lowercase hyphenated), whose order is their order.
UPDATE personal_tokens SET key_hash = unhex(key_hash) WHERE typeof(key_hash) = 'text';
