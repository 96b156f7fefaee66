-- Placeholder (s7-notices): stands for another helper's 0018 so that the
-- loader's consecutive numbers hold on this branch. DELETE at merge.
SELECT 1;
