-- Roster schema, version 2 (SQLite): SCIM documents, indexed e-mails, the provisioning log.
--
-- scim_doc: the SCIM resource as provisioned (every attribute an identity provider sent, so it
-- round-trips), without id, meta and members. scim_folded: the same document with every string
-- case-folded in Rust; case-insensitive filters compare against it, so both backends and the
-- in-memory evaluator agree on Unicode. Users and teams made through the IAM API get documents too.

ALTER TABLE users ADD COLUMN scim_doc TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN scim_folded TEXT NOT NULL DEFAULT '{}';
ALTER TABLE teams ADD COLUMN scim_doc TEXT NOT NULL DEFAULT '{}';
ALTER TABLE teams ADD COLUMN scim_folded TEXT NOT NULL DEFAULT '{}';

UPDATE users SET
    scim_doc = json_object(
        'userName', email,
        'name', json_object('givenName', first_name, 'familyName', last_name),
        'active', json(CASE WHEN is_active THEN 'true' ELSE 'false' END)),
    scim_folded = json_object(
        'userName', email_folded,
        'name', json_object('givenName', lower(first_name), 'familyName', lower(last_name)),
        'active', json(CASE WHEN is_active THEN 'true' ELSE 'false' END));
UPDATE teams SET
    scim_doc = json_object('displayName', name),
    scim_folded = json_object('displayName', name_folded);

CREATE INDEX users_account_external_id ON users (account_id, scim_external_id);
CREATE INDEX users_account_date_joined ON users (account_id, date_joined);
CREATE INDEX teams_account_external_id ON teams (account_id, scim_external_id);
CREATE INDEX teams_account_last_modified ON teams (account_id, last_modified);
CREATE INDEX team_members_team ON team_members (team_id, user_id);

-- emails[].value / type / primary of each user, folded, for indexed e-mail filters.
CREATE TABLE user_emails (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    value_folded TEXT,
    type_folded TEXT,
    is_primary BOOLEAN,
    PRIMARY KEY (user_id, position)
);
CREATE INDEX user_emails_account_value ON user_emails (account_id, value_folded);

-- Every SCIM request that changed something or failed.
CREATE TABLE provisioning_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    idp_uuid TEXT NOT NULL,
    at TEXT NOT NULL,
    request_id TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    scim_type TEXT,
    detail TEXT,
    tolerances TEXT NOT NULL DEFAULT '[]',
    changes TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX provisioning_log_idp ON provisioning_log (account_id, idp_uuid, id);
