-- Roster schema, version 6: SCIM addresses only what its identity provider made.
--
-- A user or team belongs to the provider in provisioned_by_idp; SCIM sees nothing else. Before this
-- version SCIM could change users made by hand; those a provider's SCIM requests created or changed
-- (its provisioning log says which) become that provider's, the first provider to do so winning, so
-- upgrading does not orphan what Entra already manages. Owners stay outside every provider: SCIM never
-- changed them. Teams made through the IAM API that hold permissions stay outside too, even if SCIM
-- changed them: that is the shape of the escalation this version closes (a SCIM token adding its
-- user to the admins' team); an admin who wants the provider to manage such a team says so again.
UPDATE users u SET provisioned_by_idp = f.idp_uuid
FROM (
    SELECT DISTINCT ON (l.account_id, l.resource_id) l.account_id, l.resource_id, l.idp_uuid
    FROM provisioning_log l
    JOIN identity_providers i ON i.uuid = l.idp_uuid AND i.account_id = l.account_id
    WHERE l.resource_type = 'User' AND l.status < 300
      AND l.outcome IN ('created', 'updated', 'replaced')
      AND l.resource_id ~ '^[0-9]{1,18}$'
    ORDER BY l.account_id, l.resource_id, l.id
) AS f
WHERE u.provisioned_by_idp IS NULL AND NOT u.is_account_owner
  AND u.account_id = f.account_id AND u.id = f.resource_id::BIGINT;

UPDATE teams t SET provisioned_by_idp = f.idp_uuid
FROM (
    SELECT DISTINCT ON (l.account_id, l.resource_id) l.account_id, l.resource_id, l.idp_uuid
    FROM provisioning_log l
    JOIN identity_providers i ON i.uuid = l.idp_uuid AND i.account_id = l.account_id
    WHERE l.resource_type = 'Group' AND l.status < 300
      AND l.outcome IN ('created', 'updated', 'replaced')
      AND l.resource_id ~ '^[0-9]{1,18}$'
    ORDER BY l.account_id, l.resource_id, l.id
) AS f
WHERE t.provisioned_by_idp IS NULL
  AND NOT EXISTS (SELECT 1 FROM team_permissions tp WHERE tp.team_id = t.id)
  AND t.account_id = f.account_id AND t.id = f.resource_id::BIGINT;

-- Each provider's users and teams in id order.
CREATE INDEX users_account_idp ON users (account_id, provisioned_by_idp, id);
CREATE INDEX teams_account_idp ON teams (account_id, provisioned_by_idp, id);
-- Retention: the oldest entries first.
CREATE INDEX provisioning_log_at ON provisioning_log (at);
-- Owners list every token of their account.
CREATE INDEX personal_tokens_account ON personal_tokens (account_id, created);
-- One-off data steps done in Rust after the migrations (such as re-keying userNames), by name.
CREATE TABLE roster_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
