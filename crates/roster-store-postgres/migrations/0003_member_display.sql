-- Roster schema, version 3: the display name a client sent with a group member, kept as sent.
ALTER TABLE team_members ADD COLUMN display TEXT;
