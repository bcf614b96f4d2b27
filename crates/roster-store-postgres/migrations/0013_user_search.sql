-- Roster schema, version 13: Users Management lists an account's users in email order and
-- searches them by prefix of email, of name ("first last") or of last name, each served by an
-- index. Prefixes are ranges in byte order, so these indexes use the "C" collation whatever the
-- database's. search_text is the folded "email first last", so the name starts after the email
-- and a space, and the last name after the first name and another space. Queries name these
-- expressions exactly. The email after each lets a search put its matches in email order from
-- the index alone.
CREATE INDEX users_browse_email ON users (account_id, (email_folded COLLATE "C"));
CREATE INDEX users_search_name ON users (account_id, (substr(search_text, length(email_folded) + 2) COLLATE "C"), (email_folded COLLATE "C"));
CREATE INDEX users_search_last ON users (account_id, (substr(search_text, length(email_folded) + length(first_name) + 3) COLLATE "C"), (email_folded COLLATE "C"));
-- The overview counts the account's inactive users (few) from this index, without reading rows.
CREATE INDEX users_account_active ON users (account_id, is_active);
