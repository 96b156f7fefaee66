-- A pending sign-in now travels sealed in its id (the login cookie); the
-- database keeps only which ids were used, until they expire. The key
-- starts with the expiry, so that purging the old marks is a range delete.
DROP TABLE pending_signins;
CREATE TABLE used_pendings (
	expires_at TIMESTAMPTZ NOT NULL,
	hash       BYTEA       NOT NULL, -- SHA-256 of the pending id
	PRIMARY KEY (expires_at, hash)
);
