-- Additive (issue #14). Notices that go by post: the person has no e-mail
-- address, or the mail failed. Printed from the IT console; the "this was
-- not me" link is a freeze token made at printing, so no secret is here.
CREATE TABLE notice_letters (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind       TEXT    NOT NULL,
	detail     TEXT    NOT NULL DEFAULT '',
	created_at TIMESTAMPTZ NOT NULL,
	printed_at TIMESTAMPTZ
);
CREATE INDEX notice_letters_unprinted ON notice_letters (created_at) WHERE printed_at IS NULL;
