-- A person's postal address for enrollment letters, lines separated by a
-- newline: kept locally for now, filled from the directory later.
ALTER TABLE users ADD COLUMN postal_address TEXT NOT NULL DEFAULT '';
