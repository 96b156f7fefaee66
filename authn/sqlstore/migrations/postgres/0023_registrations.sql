-- Additive (issue #15). A citizen's self-registration: the person it
-- created (no foreign key: the row is written before the person, so that
-- whatever a failure in between leaves is found and removed), the address
-- she proved, and when her enrollment finished. Unfinished registrations
-- are removed with everything they created a day later.
CREATE TABLE registrations (
	user_id     TEXT NOT NULL PRIMARY KEY,
	email       TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	finished_at TIMESTAMPTZ
);
CREATE INDEX registrations_unfinished ON registrations (created_at) WHERE finished_at IS NULL;
