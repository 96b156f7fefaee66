-- Keyhall schema (PostgreSQL): what an enrollment in progress may add, and
-- the session a self-service enrollment belongs to (enroll.Service.Open).
-- Enrollments open during the upgrade get scope 0 and add nothing: their
-- people open them again.

ALTER TABLE pending_enrollments ADD COLUMN scope INTEGER NOT NULL DEFAULT 0; -- authn.EnrollScope bits
ALTER TABLE pending_enrollments ADD COLUMN session_hash BYTEA;               -- NULL for an invitation
ALTER TABLE pending_enrollments ADD COLUMN ends_at TIMESTAMPTZ;              -- absolute end; NULL for an invitation
