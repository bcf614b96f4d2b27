-- Roster schema, version 4: team_members_team duplicated the primary key (team_id, user_id); every
-- membership write paid for it twice.
DROP INDEX IF EXISTS team_members_team;
