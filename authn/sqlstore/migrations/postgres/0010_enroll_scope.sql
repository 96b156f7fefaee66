-- Keyhall schema (PostgreSQL): what an enrollment in progress may add, and
-- the session a self-service enrollment belongs to (enroll.Service.Open).
-- Enrollments open during the upgrade get scope 0 and add nothing (but see
-- below): their people open them again.

ALTER TABLE pending_enrollments ADD COLUMN scope INTEGER NOT NULL DEFAULT 0; -- authn.EnrollScope bits
ALTER TABLE pending_enrollments ADD COLUMN session_hash BYTEA;               -- NULL for an invitation
ALTER TABLE pending_enrollments ADD COLUMN ends_at TIMESTAMPTZ;              -- absolute end; NULL for an invitation

-- An invitation not yet consumed by a first factor is an invitation's
-- enrollment for certain: it keeps everything it may add. (Once consumed,
-- an invitation's enrollment cannot be told from a self-service one.)
UPDATE pending_enrollments SET scope = 7 WHERE invitation_id <> '';
