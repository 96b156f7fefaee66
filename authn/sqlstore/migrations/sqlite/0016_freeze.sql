-- Additive (issue #14). An IT reset suspends a person's keys and apps
-- instead of deleting them: they move here, where no sign-in reads them,
-- and are deleted when she has stored a new key or app. A "this was not
-- me" link (freeze_tokens) freezes her account: status 'frozen' from
-- frozen_at until an administrator lifts it.
CREATE TABLE suspended_credentials (
	id                TEXT    NOT NULL PRIMARY KEY,
	user_id           TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind              TEXT    NOT NULL,
	nickname          TEXT    NOT NULL,
	created_at        INTEGER NOT NULL,
	last_used_at      INTEGER,
	webauthn_id       BLOB,
	public_key        BLOB,
	sign_count        INTEGER NOT NULL DEFAULT 0,
	aaguid            BLOB,
	transports        TEXT    NOT NULL DEFAULT '',
	backup_eligible   INTEGER NOT NULL DEFAULT 0,
	attestation_fmt   TEXT    NOT NULL DEFAULT '',
	cloned            INTEGER NOT NULL DEFAULT 0,
	secret_sealed     BLOB,
	last_step         INTEGER NOT NULL DEFAULT 0,
	attested          INTEGER NOT NULL DEFAULT 0,
	attestation_chain BLOB,
	suspended_at      INTEGER NOT NULL
);
CREATE INDEX suspended_credentials_user ON suspended_credentials (user_id);

ALTER TABLE users ADD COLUMN frozen_at INTEGER;
CREATE INDEX users_frozen ON users (frozen_at) WHERE frozen_at IS NOT NULL; -- the desk's overview

CREATE TABLE freeze_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY, -- SHA-256 of the token
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX freeze_tokens_user ON freeze_tokens (user_id);
