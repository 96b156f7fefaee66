-- Additive. An approval waits for a reset or, now, a role change (issue
-- #14: changes to roles need dual control too): kind says which; a role
-- change adds the person to (role_add) or removes her from the local group
-- role_group.
ALTER TABLE approvals ADD COLUMN kind TEXT NOT NULL DEFAULT 'reset';
ALTER TABLE approvals ADD COLUMN role_group TEXT NOT NULL DEFAULT '';
ALTER TABLE approvals ADD COLUMN role_add INTEGER NOT NULL DEFAULT 0;
