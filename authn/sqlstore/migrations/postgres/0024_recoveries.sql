-- Additive (issue #15). Recoveries by e-mail: the mailed link (hash), the
-- browser it is bound to (hash), the notice's cancel link (hash); until a
-- recovery ends, the recovery codes she had before it, given back if she
-- cancels. Her factors created before the cut (since_at) are removed when
-- it is due unless she cancels.
CREATE TABLE recoveries (
	id              TEXT    NOT NULL PRIMARY KEY,
	user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	link_hash       BYTEA    NOT NULL UNIQUE,
	binding_hash    BYTEA    NOT NULL,
	email           TEXT    NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	link_expires_at TIMESTAMPTZ NOT NULL,
	started_at      TIMESTAMPTZ,
	since_at        TIMESTAMPTZ,
	cancel_hash     BYTEA    UNIQUE,
	due_at          TIMESTAMPTZ,
	ended_at        TIMESTAMPTZ,
	outcome         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX recoveries_user ON recoveries (user_id, created_at);
CREATE INDEX recoveries_due ON recoveries (due_at) WHERE started_at IS NOT NULL AND ended_at IS NULL;

CREATE TABLE recovery_kept_codes (
	recovery_id TEXT    NOT NULL REFERENCES recoveries (id) ON DELETE CASCADE,
	hash        BYTEA    NOT NULL,
	used_at     TIMESTAMPTZ,
	PRIMARY KEY (recovery_id, hash)
);

-- Looking a person up by her address (/recover) without reading them all.
CREATE INDEX users_email_lower ON users (lower(email));
