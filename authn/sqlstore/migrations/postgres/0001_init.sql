-- Keyhall schema, version 1 (PostgreSQL). Times are TIMESTAMPTZ at
-- microsecond precision; NULL where the Go value is the zero time.

CREATE TABLE users (
	id           TEXT        NOT NULL PRIMARY KEY,
	external_id  TEXT        NOT NULL, -- '' for local people
	username     TEXT        NOT NULL UNIQUE,
	display_name TEXT        NOT NULL,
	email        TEXT        NOT NULL,
	status       TEXT        NOT NULL,
	source       TEXT        NOT NULL,
	search_text  TEXT        NOT NULL, -- case-folded username, display name and e-mail, for ListUsers
	created_at   TIMESTAMPTZ NOT NULL,
	updated_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_external_id ON users (source, external_id) WHERE external_id <> '';

CREATE TABLE groups (
	id           TEXT        NOT NULL PRIMARY KEY,
	external_id  TEXT        NOT NULL,
	name         TEXT        NOT NULL UNIQUE,
	display_name TEXT        NOT NULL,
	source       TEXT        NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX groups_external_id ON groups (source, external_id) WHERE external_id <> '';

CREATE TABLE memberships (
	group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sessions (
	hash         BYTEA       NOT NULL PRIMARY KEY, -- SHA-256 of the session id
	user_id      TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	amr          TEXT        NOT NULL, -- RFC 8176 methods, space-separated
	acr          TEXT        NOT NULL,
	auth_time    TIMESTAMPTZ NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	last_seen_at TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ NOT NULL,
	revoked_at   TIMESTAMPTZ,
	client_addr  TEXT        NOT NULL,
	user_agent   TEXT        NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE invitations (
	id         TEXT        NOT NULL PRIMARY KEY,
	user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash BYTEA       NOT NULL UNIQUE, -- SHA-256 of the token
	purpose    TEXT        NOT NULL,
	created_by TEXT        NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	used_at    TIMESTAMPTZ,
	voided_at  TIMESTAMPTZ
);
CREATE INDEX invitations_user ON invitations (user_id);

CREATE TABLE throttle (
	key          TEXT        NOT NULL PRIMARY KEY,
	hits         INTEGER     NOT NULL,
	window_start TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_events (
	seq         BIGINT      NOT NULL PRIMARY KEY,
	time        TIMESTAMPTZ NOT NULL,
	actor       TEXT        NOT NULL,
	action      TEXT        NOT NULL,
	subject     TEXT        NOT NULL,
	reason      TEXT        NOT NULL,
	client_addr TEXT        NOT NULL,
	details     TEXT        NOT NULL, -- JSON object
	prev_hash   BYTEA       NOT NULL,
	hash        BYTEA       NOT NULL
);
CREATE INDEX audit_events_subject ON audit_events (subject, seq);

-- The chain's head: the last event's Seq and Hash. One row, locked (FOR
-- UPDATE) by every transaction that appends, in every process.
CREATE TABLE audit_head (
	id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq  BIGINT  NOT NULL,
	hash BYTEA   NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
