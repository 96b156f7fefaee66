-- Keyhall schema, version 3 (PostgreSQL): the OpenID Connect provider. Lists
-- (scopes, amr, prompt, acr_values) are space-separated.

-- The one signing key, in slot 1: processes that start at once race to
-- insert it, and every one of them reads back the winner.
CREATE TABLE oidc_signing_keys (
	slot           INTEGER NOT NULL PRIMARY KEY CHECK (slot = 1),
	id             TEXT    NOT NULL,
	algorithm      TEXT    NOT NULL,
	public_key     BYTEA   NOT NULL, -- PKIX DER
	private_sealed BYTEA   NOT NULL, -- AES-256-GCM under the encryption key
	created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE oidc_auth_requests (
	id              TEXT    NOT NULL PRIMARY KEY,
	client_id       TEXT    NOT NULL,
	redirect_uri    TEXT    NOT NULL,
	scopes          TEXT    NOT NULL,
	state           TEXT    NOT NULL,
	nonce           TEXT    NOT NULL,
	response_mode   TEXT    NOT NULL,
	code_challenge  TEXT    NOT NULL,
	challenge_method TEXT    NOT NULL,
	prompt          TEXT    NOT NULL,
	max_age_seconds INTEGER NOT NULL, -- -1: none
	acr_values      TEXT    NOT NULL,
	login_hint      TEXT    NOT NULL,
	binding         BYTEA   NOT NULL, -- SHA-256 of the browser binding cookie
	created_at      TIMESTAMPTZ NOT NULL,
	expires_at      TIMESTAMPTZ NOT NULL,
	user_id         TEXT    NOT NULL, -- '' until done
	amr             TEXT    NOT NULL,
	acr             TEXT    NOT NULL,
	auth_time       TIMESTAMPTZ,
	session_hash    BYTEA,
	done_at         TIMESTAMPTZ,
	code_hash       BYTEA   UNIQUE, -- SHA-256 of the code
	code_expires_at TIMESTAMPTZ,
	code_used_at    TIMESTAMPTZ
);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);

CREATE TABLE oidc_tokens (
	id           TEXT    NOT NULL PRIMARY KEY,
	kind         TEXT    NOT NULL, -- access, refresh
	hash         BYTEA   UNIQUE,   -- refresh tokens: SHA-256 of the token
	grant_id     TEXT    NOT NULL, -- the family: the authorization request it began with
	client_id    TEXT    NOT NULL,
	user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	session_hash BYTEA   NOT NULL,
	scopes       TEXT    NOT NULL,
	amr          TEXT    NOT NULL,
	acr          TEXT    NOT NULL,
	auth_time    TIMESTAMPTZ NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ NOT NULL,
	used_at      TIMESTAMPTZ,
	revoked_at   TIMESTAMPTZ
);
CREATE INDEX oidc_tokens_grant ON oidc_tokens (grant_id);
CREATE INDEX oidc_tokens_user ON oidc_tokens (user_id);
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_hash);
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);
