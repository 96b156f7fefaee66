-- Additive (issue #16). Signing-key rotation: every ES256 key the
-- installation has signed with, sealed as oidc_signing_keys was. The one
-- with no retired_at signs (the partial unique index allows one); a retired
-- key stays published in the JWKS until the tokens it signed have expired,
-- and stays here for good, so that audit checkpoints it signed still verify.
-- The key of oidc_signing_keys is copied in as the active key;
-- oidc_signing_keys itself is no longer read.
CREATE TABLE oidc_keys (
	id             TEXT    NOT NULL PRIMARY KEY,
	algorithm      TEXT    NOT NULL,
	public_key     BLOB    NOT NULL, -- PKIX DER
	private_sealed BLOB    NOT NULL, -- AES-256-GCM under the encryption key
	created_at     INTEGER NOT NULL,
	activated_at   INTEGER NOT NULL, -- became the signing key
	retired_at     INTEGER           -- stopped signing; NULL for the signing key
);
CREATE UNIQUE INDEX oidc_keys_one_active ON oidc_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

INSERT INTO oidc_keys (id, algorithm, public_key, private_sealed, created_at, activated_at, retired_at)
	SELECT id, algorithm, public_key, private_sealed, created_at, created_at, NULL FROM oidc_signing_keys;
