-- Keyhall schema (PostgreSQL): directory sync (ldapsync, issue #13). Additive.

-- The configured directory (ldapsync.Config.Name) a person or group comes
-- from; '' for local ones. A person's telephone number, from the directory.
ALTER TABLE users ADD COLUMN directory TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
-- Who disabled a disabled person: 'admin' or 'directory' ('' while active).
-- The sync enables only people it disabled itself, and deletes them after
-- the grace period counted from disabled_at.
ALTER TABLE users ADD COLUMN disabled_by TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;
UPDATE users SET disabled_by = 'admin', disabled_at = updated_at WHERE status = 'disabled';
ALTER TABLE groups ADD COLUMN directory TEXT NOT NULL DEFAULT '';

-- A person is matched by her stable id within her directory.
DROP INDEX users_external_id;
CREATE UNIQUE INDEX users_external_id ON users (source, directory, external_id) WHERE external_id <> '';
CREATE INDEX users_directory ON users (directory) WHERE directory <> '';
DROP INDEX groups_external_id;
CREATE UNIQUE INDEX groups_external_id ON groups (source, directory, external_id) WHERE external_id <> '';

-- One row per directory: what the last runs found.
CREATE TABLE directory_state (
	directory        TEXT        NOT NULL PRIMARY KEY,
	last_good_people INTEGER     NOT NULL, -- people the last good read found (the safety valve's measure)
	last_success_at  TIMESTAMPTZ,
	last_run_at      TIMESTAMPTZ,
	last_outcome     TEXT        NOT NULL, -- 'ok', 'aborted', 'held_back', 'failed'
	last_error       TEXT        NOT NULL,
	markers          TEXT        NOT NULL  -- JSON: change markers for the incremental sync
);

-- The lease of the process that syncs a directory: exactly one at a time.
CREATE TABLE directory_locks (
	directory  TEXT        NOT NULL PRIMARY KEY,
	holder     TEXT        NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
