-- Keyhall schema, version 2 (PostgreSQL): security keys, authenticator apps,
-- recovery codes, local passwords, sign-ins in progress.

CREATE TABLE credentials (
	id              TEXT        NOT NULL PRIMARY KEY,
	user_id         TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind            TEXT        NOT NULL, -- 'webauthn' or 'totp'
	nickname        TEXT        NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	last_used_at    TIMESTAMPTZ,
	webauthn_id     BYTEA       UNIQUE,   -- NULL for an app
	public_key      BYTEA,
	sign_count      BIGINT      NOT NULL DEFAULT 0,
	aaguid          BYTEA,
	transports      TEXT        NOT NULL DEFAULT '', -- space-separated
	backup_eligible BOOLEAN     NOT NULL DEFAULT FALSE,
	attestation_fmt TEXT        NOT NULL DEFAULT '',
	cloned          BOOLEAN     NOT NULL DEFAULT FALSE,
	secret_sealed   BYTEA,                -- AES-256-GCM, additional data = id
	last_step       BIGINT      NOT NULL DEFAULT 0
);
CREATE INDEX credentials_user ON credentials (user_id, created_at);

CREATE TABLE recovery_codes (
	user_id TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash    BYTEA       NOT NULL, -- SHA-256 of the normalised code
	used_at TIMESTAMPTZ,
	PRIMARY KEY (user_id, hash)
);

CREATE TABLE passwords (
	user_id    TEXT        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	phc        TEXT        NOT NULL, -- $argon2id$v=19$m=…,t=…,p=…$salt$hash
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE pending_signins (
	hash          BYTEA       NOT NULL PRIMARY KEY, -- SHA-256 of the pending id
	user_id       TEXT        NOT NULL, -- '' for an unknown username; no foreign key
	username      TEXT        NOT NULL,
	amr           TEXT        NOT NULL, -- space-separated
	ceremony      BYTEA,
	next          TEXT        NOT NULL,
	recovery_only BOOLEAN     NOT NULL,
	return_to     TEXT        NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_signins_expires ON pending_signins (expires_at);

ALTER TABLE sessions ADD COLUMN recovery_only BOOLEAN NOT NULL DEFAULT FALSE;
