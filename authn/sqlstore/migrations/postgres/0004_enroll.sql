-- Keyhall schema, version 4 (PostgreSQL): invitation codes and enrollments
-- in progress.

-- The short code of an invitation, besides its link token. SHA-256 of a
-- label, the person's id and the canonical code (enroll.hashCode).
CREATE TABLE invitation_codes (
	invitation_id TEXT  NOT NULL PRIMARY KEY REFERENCES invitations (id) ON DELETE CASCADE,
	code_hash     BYTEA NOT NULL
);

CREATE TABLE pending_enrollments (
	hash          BYTEA       NOT NULL PRIMARY KEY, -- SHA-256 of the enrollment id
	user_id       TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	invitation_id TEXT        NOT NULL, -- '' once the first factor consumed it
	ceremony      BYTEA,                -- go-webauthn SessionData while a key registration is open
	totp_sealed   BYTEA,                -- an app's secret until a correct code confirms it
	factors       INTEGER     NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_enrollments_expires ON pending_enrollments (expires_at);
