-- Roster schema, version 3: the display name a client sent with a group member, kept as sent;
-- token names case-folded (in Rust) for search.
ALTER TABLE team_members ADD COLUMN display TEXT;
ALTER TABLE personal_tokens ADD COLUMN name_folded TEXT NOT NULL DEFAULT '';
UPDATE personal_tokens SET name_folded = lower(name);
