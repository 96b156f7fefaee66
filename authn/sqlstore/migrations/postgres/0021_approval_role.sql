-- Additive (review of #14). The role a role change gives, as the
-- configuration said when it was asked for: approval refuses it if the
-- group gives another role by then.
ALTER TABLE approvals ADD COLUMN role TEXT NOT NULL DEFAULT '';
