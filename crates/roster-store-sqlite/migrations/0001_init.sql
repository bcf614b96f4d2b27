-- Roster schema, version 1 (SQLite). The other backend's migration of the
-- same number creates the same tables, columns, keys and indexes.
-- Timestamps are canonical UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ): text order is time order.
-- *_folded columns are case-folded in Rust (Unicode-aware) for uniqueness and search.

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    company_name TEXT NOT NULL DEFAULT '',
    account_type TEXT NOT NULL DEFAULT 'client',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_enabled_mfa_to_all_users BOOLEAN NOT NULL DEFAULT FALSE,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_folded TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    search_text TEXT NOT NULL,
    is_active BOOLEAN NOT NULL,
    is_account_owner BOOLEAN NOT NULL,
    two_factor_enabled BOOLEAN NOT NULL,
    language TEXT NOT NULL,
    timezone TEXT NOT NULL,
    phone TEXT NOT NULL,
    mobile TEXT NOT NULL,
    country_call_code TEXT NOT NULL,
    date_joined TEXT NOT NULL,
    last_login TEXT,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    scim_external_id TEXT,
    provisioned_by_idp TEXT
);
CREATE UNIQUE INDEX users_account_email_key ON users (account_id, email_folded);
CREATE INDEX users_account_last_modified ON users (account_id, last_modified);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    is_active BOOLEAN NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    scim_external_id TEXT,
    provisioned_by_idp TEXT
);
CREATE UNIQUE INDEX teams_account_name_key ON teams (account_id, name_folded);

CREATE TABLE team_members (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE permissions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    grp TEXT NOT NULL
);

CREATE TABLE team_permissions (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES permissions (id),
    PRIMARY KEY (team_id, permission_id)
);

CREATE TABLE personal_tokens (
    uuid TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    created TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_used_at TEXT,
    -- SHA-256 of the key, hex. The key itself is never stored.
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL
);
CREATE INDEX personal_tokens_user ON personal_tokens (user_id, created);

CREATE TABLE identity_providers (
    uuid TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    protocol TEXT NOT NULL CHECK (protocol IN ('saml', 'oidc')),
    name TEXT NOT NULL,
    is_active BOOLEAN NOT NULL,
    scim_integration BOOLEAN NOT NULL DEFAULT FALSE,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    sign_in_url TEXT,
    entity_id_url TEXT,
    certificate_pem TEXT,
    signature_algorithm TEXT,
    authorization_url TEXT,
    userinfo_url TEXT,
    token_url TEXT,
    client_id TEXT,
    client_secret TEXT,
    scopes TEXT,
    response_mode TEXT
);
-- At most one active identity provider per account.
CREATE UNIQUE INDEX idp_one_active ON identity_providers (account_id) WHERE is_active;

-- The permission catalogue (global, read-only). "SCIM Protocol Integration" is the one the
-- Entra guide names; the rest are Azion's documented permissions.
INSERT INTO permissions (id, name, slug, grp) VALUES
  (1, 'View Content Delivery Settings', 'view_content_delivery_settings', 'Content Delivery'),
  (2, 'Edit Content Delivery Settings', 'edit_content_delivery_settings', 'Content Delivery'),
  (3, 'Real-Time Purge', 'real_time_purge', 'Content Delivery'),
  (4, 'Wildcard Purge', 'wildcard_purge', 'Content Delivery'),
  (5, 'View Real-Time Analytics', 'view_real_time_analytics', 'Observe'),
  (6, 'View Real-Time Events', 'view_real_time_events', 'Observe'),
  (7, 'View Security Settings', 'view_security_settings', 'Secure'),
  (8, 'Edit Security Settings', 'edit_security_settings', 'Secure'),
  (9, 'View Subscriptions', 'view_subscriptions', 'Billing'),
  (10, 'Edit Subscriptions', 'edit_subscriptions', 'Billing'),
  (11, 'View Payment Methods', 'view_payment_methods', 'Billing'),
  (12, 'Edit Payment Methods', 'edit_payment_methods', 'Billing'),
  (13, 'View Bills', 'view_bills', 'Billing'),
  (14, 'Edit Multi-Factor Authentication', 'edit_multi_factor_authentication', 'Accounts'),
  (15, 'View Applications', 'view_applications', 'Build'),
  (16, 'Edit Applications', 'edit_applications', 'Build'),
  (17, 'View Domains', 'view_domains', 'Build'),
  (18, 'Edit Domains', 'edit_domains', 'Build'),
  (19, 'View Users', 'view_users', 'Accounts'),
  (20, 'Edit Users', 'edit_users', 'Accounts'),
  (21, 'View Edge DNS', 'view_edge_dns', 'Secure'),
  (22, 'Edit Edge DNS', 'edit_edge_dns', 'Secure'),
  (23, 'View Data Stream', 'view_data_stream', 'Observe'),
  (24, 'Edit Data Stream', 'edit_data_stream', 'Observe'),
  (25, 'View Network Lists', 'view_network_lists', 'Secure'),
  (26, 'Edit Network Lists', 'edit_network_lists', 'Secure'),
  (27, 'View Firewall', 'view_firewall', 'Secure'),
  (28, 'Edit Firewall', 'edit_firewall', 'Secure'),
  (29, 'View Functions', 'view_functions', 'Build'),
  (30, 'Edit Functions', 'edit_functions', 'Build'),
  (31, 'View Storage Bucket', 'view_storage_bucket', 'Store'),
  (32, 'Edit Storage Bucket', 'edit_storage_bucket', 'Store'),
  (33, 'Delete Storage Bucket', 'delete_storage_bucket', 'Store'),
  (34, 'View Storage Object', 'view_storage_object', 'Store'),
  (35, 'Edit Storage Object', 'edit_storage_object', 'Store'),
  (36, 'Delete Storage Object', 'delete_storage_object', 'Store'),
  (37, 'View client list', 'view_client_list', 'Accounts'),
  (38, 'Change clients', 'change_clients', 'Accounts'),
  (39, 'View SQL Database', 'view_sql_database', 'Store'),
  (40, 'Edit SQL Database', 'edit_sql_database', 'Store'),
  (41, 'SCIM Protocol Integration', 'scim_protocol_integration', 'Accounts');
