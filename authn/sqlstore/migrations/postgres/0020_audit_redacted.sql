-- Additive (issue #15). An audit event whose personal data was removed
-- after it was written (erasure, retention) keeps its place and hash in the
-- chain; redacted marks it (authn.AuditEvent.Redacted).
ALTER TABLE audit_events ADD COLUMN redacted BOOLEAN NOT NULL DEFAULT FALSE;
