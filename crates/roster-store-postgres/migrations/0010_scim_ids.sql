-- Roster schema, version 10: opaque SCIM ids. Users and teams made from now on carry a UUID (v7,
-- so id order is creation order) as their SCIM id; those made before keep NULL here and answer
-- to their integer id, which Entra and Okta stored and address every later request by.
ALTER TABLE users ADD COLUMN scim_id uuid;
ALTER TABLE teams ADD COLUMN scim_id uuid;
CREATE UNIQUE INDEX users_scim_id ON users (scim_id);
CREATE UNIQUE INDEX teams_scim_id ON teams (scim_id);

-- A group member's display, case-folded, so that filters on members.display compare it as the
-- schema says (caseExact false). Filled for existing rows by the step after the migrations.
ALTER TABLE team_members ADD COLUMN display_folded TEXT;
