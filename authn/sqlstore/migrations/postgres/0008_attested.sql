-- A security key counts as a hardware key (amr hwk, acr phrh) only when its
-- attestation was verified at registration against a trusted root; that
-- fact, and the certificate chain the key sent (x5c, DER, leaf first), are
-- kept with it. Keys registered before kept neither their attestation
-- statement nor its chain, so nothing can be shown of them: they are not
-- attested (a key with the backup-eligible flag clear now signs in as
-- amr pop, acr phr). README.md's release note says so.
ALTER TABLE credentials ADD COLUMN attested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE credentials ADD COLUMN attestation_chain BYTEA;
