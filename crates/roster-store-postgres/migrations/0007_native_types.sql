-- Roster schema, version 7 (PostgreSQL): native types. Timestamps become timestamptz (they were
-- canonical UTC text), uuids uuid, the token key hash bytea (it was hex), the provisioning log's
-- JSON columns jsonb. Values are converted in place; nothing is dropped.

ALTER TABLE accounts
    ALTER COLUMN created TYPE timestamptz USING created::timestamptz,
    ALTER COLUMN last_modified TYPE timestamptz USING last_modified::timestamptz;

ALTER TABLE users
    ALTER COLUMN date_joined TYPE timestamptz USING date_joined::timestamptz,
    ALTER COLUMN last_login TYPE timestamptz USING last_login::timestamptz,
    ALTER COLUMN last_modified TYPE timestamptz USING last_modified::timestamptz,
    ALTER COLUMN provisioned_by_idp TYPE uuid USING provisioned_by_idp::uuid;

ALTER TABLE teams
    ALTER COLUMN created TYPE timestamptz USING created::timestamptz,
    ALTER COLUMN last_modified TYPE timestamptz USING last_modified::timestamptz,
    ALTER COLUMN provisioned_by_idp TYPE uuid USING provisioned_by_idp::uuid;

ALTER TABLE personal_tokens
    ALTER COLUMN uuid TYPE uuid USING uuid::uuid,
    ALTER COLUMN created TYPE timestamptz USING created::timestamptz,
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz,
    ALTER COLUMN last_used_at TYPE timestamptz USING last_used_at::timestamptz,
    ALTER COLUMN key_hash TYPE bytea USING decode(key_hash, 'hex');

ALTER TABLE identity_providers
    ALTER COLUMN uuid TYPE uuid USING uuid::uuid,
    ALTER COLUMN created TYPE timestamptz USING created::timestamptz,
    ALTER COLUMN last_modified TYPE timestamptz USING last_modified::timestamptz;

ALTER TABLE provisioning_log
    ALTER COLUMN tolerances DROP DEFAULT,
    ALTER COLUMN changes DROP DEFAULT;
ALTER TABLE provisioning_log
    ALTER COLUMN idp_uuid TYPE uuid USING idp_uuid::uuid,
    ALTER COLUMN at TYPE timestamptz USING at::timestamptz,
    ALTER COLUMN tolerances TYPE jsonb USING tolerances::jsonb,
    ALTER COLUMN changes TYPE jsonb USING changes::jsonb;
ALTER TABLE provisioning_log
    ALTER COLUMN tolerances SET DEFAULT '[]'::jsonb,
    ALTER COLUMN changes SET DEFAULT '[]'::jsonb;
