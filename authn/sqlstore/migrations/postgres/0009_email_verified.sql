-- Additive.

-- The subject of an authorization request's id_token_hint ('' for none).
ALTER TABLE oidc_auth_requests ADD COLUMN hint_subject TEXT NOT NULL DEFAULT '';

-- users.verified_email is the address the person proved she receives mail
-- at, by a confirmation link mailed to it: her e-mail is verified while it
-- equals her current address, so a new address is not.
ALTER TABLE users ADD COLUMN verified_email TEXT NOT NULL DEFAULT '';

CREATE TABLE email_confirmations (
	token_hash BYTEA       NOT NULL PRIMARY KEY, -- SHA-256 of the link's token
	user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email      TEXT        NOT NULL, -- the address it was mailed to
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	used_at    TIMESTAMPTZ
);
CREATE INDEX email_confirmations_user ON email_confirmations (user_id);
