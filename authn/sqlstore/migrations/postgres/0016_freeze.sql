-- Additive (issue #14). An IT reset suspends a person's keys and apps
-- instead of deleting them: they move here, where no sign-in reads them,
-- and are deleted when she has stored a new key or app. A "this was not
-- me" link (freeze_tokens) freezes her account: status 'frozen' from
-- frozen_at until an administrator lifts it.
CREATE TABLE suspended_credentials (
	id                TEXT        NOT NULL PRIMARY KEY,
	user_id           TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind              TEXT        NOT NULL,
	nickname          TEXT        NOT NULL,
	created_at        TIMESTAMPTZ NOT NULL,
	last_used_at      TIMESTAMPTZ,
	webauthn_id       BYTEA,
	public_key        BYTEA,
	sign_count        BIGINT      NOT NULL DEFAULT 0,
	aaguid            BYTEA,
	transports        TEXT        NOT NULL DEFAULT '',
	backup_eligible   BOOLEAN     NOT NULL DEFAULT FALSE,
	attestation_fmt   TEXT        NOT NULL DEFAULT '',
	cloned            BOOLEAN     NOT NULL DEFAULT FALSE,
	secret_sealed     BYTEA,
	last_step         BIGINT      NOT NULL DEFAULT 0,
	attested          BOOLEAN     NOT NULL DEFAULT FALSE,
	attestation_chain BYTEA,
	suspended_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX suspended_credentials_user ON suspended_credentials (user_id);

ALTER TABLE users ADD COLUMN frozen_at TIMESTAMPTZ;
CREATE INDEX users_frozen ON users (frozen_at) WHERE frozen_at IS NOT NULL; -- the desk's overview

CREATE TABLE freeze_tokens (
	hash       BYTEA       NOT NULL PRIMARY KEY, -- SHA-256 of the token
	user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	used_at    TIMESTAMPTZ
);
CREATE INDEX freeze_tokens_user ON freeze_tokens (user_id);
