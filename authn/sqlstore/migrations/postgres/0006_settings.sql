-- Facts about the installation that every process must agree on, by name:
-- "keys_fingerprint", the fingerprint of the key file the database was set
-- up with.
CREATE TABLE settings (
	name  TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
);
