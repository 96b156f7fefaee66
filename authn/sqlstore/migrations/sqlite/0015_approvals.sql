-- Additive. A reset that waits for a second person's approval (dual
-- control, issue #14): the IT desk records it here, a second helpdesk or
-- admin person decides it once (decided_at set in one conditional
-- statement), and it expires after 24 hours.
CREATE TABLE approvals (
	id                   TEXT    NOT NULL PRIMARY KEY,
	user_id              TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	requested_by         TEXT    NOT NULL, -- as the audit log names the requester
	requester_id         TEXT    NOT NULL DEFAULT '', -- her user id, '' for the command line
	requester_directory  TEXT    NOT NULL DEFAULT '',
	requester_external   TEXT    NOT NULL DEFAULT '',
	reason               TEXT    NOT NULL,
	check_method         TEXT    NOT NULL,
	check_text           TEXT    NOT NULL DEFAULT '',
	delivery             TEXT    NOT NULL,
	validity_seconds     BIGINT  NOT NULL,
	require_password     INTEGER NOT NULL DEFAULT 0,
	created_at           INTEGER NOT NULL,
	expires_at           INTEGER NOT NULL,
	decided_at           INTEGER,
	decided_by           TEXT    NOT NULL DEFAULT '',
	decision             TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE decided_at IS NULL;
CREATE INDEX approvals_user ON approvals (user_id);
