-- Additive (issue #15). A citizen whose account was unused for
-- citizens.inactive_after is mailed a notice; her account is deleted
-- citizens.DeletionNotice after noticed_at unless she used it since.
-- Numbered 0023 in the plan of #15; the lead renumbers at merge.
CREATE TABLE inactive_notices (
	user_id    TEXT        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	noticed_at TIMESTAMPTZ NOT NULL
);
