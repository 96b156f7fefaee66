-- Additive. IT can require, at invitation, that a local person chooses a
-- password in her enrollment (keyhall admin invite|reset
-- --require-password): her enrollment does not finish without one.
ALTER TABLE invitations ADD COLUMN require_password INTEGER NOT NULL DEFAULT 0;
