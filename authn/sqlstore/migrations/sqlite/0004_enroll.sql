-- Keyhall schema, version 4 (SQLite): invitation codes and enrollments in
-- progress.

-- The short code of an invitation, besides its link token. SHA-256 of a
-- label, the person's id and the canonical code (enroll.hashCode).
CREATE TABLE invitation_codes (
	invitation_id TEXT NOT NULL PRIMARY KEY REFERENCES invitations (id) ON DELETE CASCADE,
	code_hash     BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE pending_enrollments (
	hash          BLOB    NOT NULL PRIMARY KEY, -- SHA-256 of the enrollment id
	user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	invitation_id TEXT    NOT NULL, -- '' once the first factor consumed it
	ceremony      BLOB,             -- go-webauthn SessionData while a key registration is open
	totp_sealed   BLOB,             -- an app's secret until a correct code confirms it
	factors       INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX pending_enrollments_expires ON pending_enrollments (expires_at);
