-- Keyhall schema (PostgreSQL): new recovery codes an enrollment showed, sealed,
-- until the person confirms she stored them; only then do they replace her
-- old codes (enroll.Service.KeepRecoveryCodes).

ALTER TABLE pending_enrollments ADD COLUMN codes_sealed BYTEA; -- NULL when none are waiting
