-- Keyhall schema (SQLite): what an enrollment in progress may add, and the
-- session a self-service enrollment belongs to (enroll.Service.Open).
-- Enrollments open during the upgrade get scope 0 and add nothing: their
-- people open them again.

ALTER TABLE pending_enrollments ADD COLUMN scope INTEGER NOT NULL DEFAULT 0; -- authn.EnrollScope bits
ALTER TABLE pending_enrollments ADD COLUMN session_hash BLOB;                -- NULL for an invitation
ALTER TABLE pending_enrollments ADD COLUMN ends_at INTEGER;                  -- absolute end; NULL for an invitation
