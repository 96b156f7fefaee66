-- Additive (issue #16). The authenticator models of the FIDO Metadata
-- Service blob the city imported (keyhall admin mds import): one row per
-- AAGUID, replaced as a whole at each import; and the imported blob's
-- facts in one row (id 1), whose "no" only moves forward.
CREATE TABLE key_models (
	aaguid        BYTEA       NOT NULL PRIMARY KEY, -- 16 bytes, as credentials.aaguid
	name          TEXT        NOT NULL,
	status        TEXT        NOT NULL, -- the latest status report's
	status_date   TIMESTAMPTZ,
	compromise    TEXT        NOT NULL, -- REVOKED, …; '' when none
	certification TEXT        NOT NULL  -- the highest FIDO_CERTIFIED_* level; '' when none
);
CREATE INDEX key_models_compromised ON key_models (aaguid) WHERE compromise <> '';

CREATE TABLE key_metadata (
	id          INTEGER     NOT NULL PRIMARY KEY CHECK (id = 1),
	no          BIGINT      NOT NULL,
	next_update TIMESTAMPTZ NOT NULL,
	imported_at TIMESTAMPTZ NOT NULL,
	models      INTEGER     NOT NULL
);
CREATE INDEX credentials_aaguid ON credentials (aaguid);
