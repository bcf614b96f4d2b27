-- Roster schema, version 6: SCIM addresses only what its identity provider made.
--
-- A user or team belongs to the provider in provisioned_by_idp; SCIM sees nothing else. Before this
-- version SCIM could change users made by hand; those a provider's SCIM requests created or changed
-- (its provisioning log says which) become that provider's, the first provider to do so winning, so
-- upgrading does not orphan what Entra already manages. Owners stay outside every provider: SCIM never
-- changed them. Teams made through the IAM API that hold permissions stay outside too, even if SCIM
-- changed them: that is the shape of the escalation this version closes (a SCIM token adding its
-- user to the admins' team); an admin who wants the provider to manage such a team says so again.
UPDATE users SET provisioned_by_idp = f.idp_uuid
FROM (
    SELECT l.account_id, l.resource_id, l.idp_uuid, MIN(l.id)
    FROM provisioning_log l
    JOIN identity_providers i ON i.uuid = l.idp_uuid AND i.account_id = l.account_id
    WHERE l.resource_type = 'User' AND l.status < 300
      AND l.outcome IN ('created', 'updated', 'replaced')
    GROUP BY l.account_id, l.resource_id
) AS f
WHERE users.provisioned_by_idp IS NULL AND NOT users.is_account_owner
  AND users.account_id = f.account_id AND CAST(users.id AS TEXT) = f.resource_id;

UPDATE teams SET provisioned_by_idp = f.idp_uuid
FROM (
    SELECT l.account_id, l.resource_id, l.idp_uuid, MIN(l.id)
    FROM provisioning_log l
    JOIN identity_providers i ON i.uuid = l.idp_uuid AND i.account_id = l.account_id
    WHERE l.resource_type = 'Group' AND l.status < 300
      AND l.outcome IN ('created', 'updated', 'replaced')
    GROUP BY l.account_id, l.resource_id
) AS f
WHERE teams.provisioned_by_idp IS NULL
  AND NOT EXISTS (SELECT 1 FROM team_permissions tp WHERE tp.team_id = teams.id)
  AND teams.account_id = f.account_id AND CAST(teams.id AS TEXT) = f.resource_id;

-- Each provider's users and teams in id order (SQLite appends the rowid, the id).
CREATE INDEX users_account_idp ON users (account_id, provisioned_by_idp);
CREATE INDEX teams_account_idp ON teams (account_id, provisioned_by_idp);
-- Retention: the oldest entries first.
CREATE INDEX provisioning_log_at ON provisioning_log (at);
-- Owners list every token of their account.
CREATE INDEX personal_tokens_account ON personal_tokens (account_id, created);
-- One-off data steps done in Rust after the migrations (such as re-keying userNames), by name.
CREATE TABLE roster_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
