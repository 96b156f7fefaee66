-- Placeholder for the signing-keys change (issue #16), which takes number 25:
-- the loader needs consecutive numbers. Dropped when the lead merges.
SELECT 1;
