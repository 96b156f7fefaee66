-- Keyhall schema, version 2 (SQLite): security keys, authenticator apps,
-- recovery codes, local passwords, sign-ins in progress.

CREATE TABLE credentials (
	id              TEXT    NOT NULL PRIMARY KEY,
	user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind            TEXT    NOT NULL, -- 'webauthn' or 'totp'
	nickname        TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	last_used_at    INTEGER,
	webauthn_id     BLOB    UNIQUE,   -- NULL for an app
	public_key      BLOB,
	sign_count      INTEGER NOT NULL DEFAULT 0,
	aaguid          BLOB,
	transports      TEXT    NOT NULL DEFAULT '', -- space-separated
	backup_eligible INTEGER NOT NULL DEFAULT 0,
	attestation_fmt TEXT    NOT NULL DEFAULT '',
	cloned          INTEGER NOT NULL DEFAULT 0,
	secret_sealed   BLOB,             -- AES-256-GCM, additional data = id
	last_step       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX credentials_user ON credentials (user_id, created_at);

CREATE TABLE recovery_codes (
	user_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash    BLOB    NOT NULL, -- SHA-256 of the normalised code
	used_at INTEGER,
	PRIMARY KEY (user_id, hash)
) WITHOUT ROWID;

CREATE TABLE passwords (
	user_id    TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	phc        TEXT    NOT NULL, -- $argon2id$v=19$m=…,t=…,p=…$salt$hash
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE pending_signins (
	hash          BLOB    NOT NULL PRIMARY KEY, -- SHA-256 of the pending id
	user_id       TEXT    NOT NULL, -- '' for an unknown username; no foreign key
	username      TEXT    NOT NULL,
	amr           TEXT    NOT NULL, -- space-separated
	ceremony      BLOB,
	next          TEXT    NOT NULL,
	recovery_only INTEGER NOT NULL,
	return_to     TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX pending_signins_expires ON pending_signins (expires_at);

ALTER TABLE sessions ADD COLUMN recovery_only INTEGER NOT NULL DEFAULT 0;
