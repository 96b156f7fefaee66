-- Additive. The IT console's search (authn.SearchStore): every folded word
-- of a person's username, display name and e-mail (authn.SearchTerms), so
-- that a prefix of a word is one range of an index. Written with the
-- person by every write that stores her; people stored before this
-- version are indexed when the store opens (sqlstore/search.go).
CREATE TABLE user_search (
	term    TEXT NOT NULL,
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (term, user_id)
) WITHOUT ROWID;
CREATE INDEX user_search_user ON user_search (user_id);
-- The audit page's filters and the overview's counts.
CREATE INDEX audit_events_action ON audit_events (action, time);
CREATE INDEX credentials_kind ON credentials (kind, user_id);
CREATE INDEX users_inactive ON users (id) WHERE status <> 'active';
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX invitations_open ON invitations (created_at) WHERE used_at IS NULL AND voided_at IS NULL;
