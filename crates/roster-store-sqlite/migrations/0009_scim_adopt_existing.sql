-- Roster schema, version 9: an identity provider may adopt existing users. With
-- scim_adopt_existing on, a SCIM create whose userName belongs to a user made by hand (not an
-- owner, not another provider's) links that user to the provider instead of answering 409.
ALTER TABLE identity_providers ADD COLUMN scim_adopt_existing BOOLEAN NOT NULL DEFAULT FALSE;
