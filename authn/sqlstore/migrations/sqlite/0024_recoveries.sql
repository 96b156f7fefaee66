-- Additive (issue #15). Recoveries by e-mail: the mailed link (hash), the
-- browser it is bound to (hash), the notice's cancel link (hash); until a
-- recovery ends, the recovery codes she had before it, given back if she
-- cancels. Her factors created before the cut (since_at) are removed when
-- it is due unless she cancels.
CREATE TABLE recoveries (
	id              TEXT    NOT NULL PRIMARY KEY,
	user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	link_hash       BLOB    NOT NULL UNIQUE,
	binding_hash    BLOB    NOT NULL,
	email           TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	link_expires_at INTEGER NOT NULL,
	started_at      INTEGER,
	since_at        INTEGER,
	cancel_hash     BLOB    UNIQUE,
	due_at          INTEGER,
	ended_at        INTEGER,
	outcome         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX recoveries_user ON recoveries (user_id, created_at);
CREATE INDEX recoveries_due ON recoveries (due_at) WHERE started_at IS NOT NULL AND ended_at IS NULL;

CREATE TABLE recovery_kept_codes (
	recovery_id TEXT    NOT NULL REFERENCES recoveries (id) ON DELETE CASCADE,
	hash        BLOB    NOT NULL,
	used_at     INTEGER,
	PRIMARY KEY (recovery_id, hash)
);

-- Looking a person up by her address (/recover) without reading them all.
CREATE INDEX users_email_lower ON users (lower(email));
