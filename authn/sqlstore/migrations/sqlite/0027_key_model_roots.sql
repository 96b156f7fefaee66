-- Additive. The attestation root certificates the imported FIDO Metadata
-- Service blob lists for each model (attestationRootCertificates, FIDO MDS
-- 3.1 §3.1.7 metadata statement): DER certificates one after the other,
-- as credentials.attestation_chain; empty until the next import.
ALTER TABLE key_models ADD COLUMN roots BLOB NOT NULL DEFAULT x'';
