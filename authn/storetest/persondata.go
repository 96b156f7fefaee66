package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// testPersonData: what PersonDataStore lists of a person is hers, and all
// of it that FullPerson made: her tokens, her invitation, and the audit
// events that name her, the same that EraseUser redacts.
func testPersonData(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bert := FullPerson(t, s, "anna"), FullPerson(t, s, "bert")
	toks, err := s.ListUserOIDCTokens(ctx, anna.ID)
	must(t, "ListUserOIDCTokens", err)
	if len(toks) != len(anna.Tokens) {
		t.Errorf("ListUserOIDCTokens: %d tokens, want her %d", len(toks), len(anna.Tokens))
	}
	for _, tok := range toks {
		if tok.UserID != anna.ID || tok.ClientID != anna.Grant.ClientID || tok.GrantID != anna.Grant.ID {
			t.Errorf("ListUserOIDCTokens gave %+v, not one of hers", tok)
		}
	}
	// Her one session is active; once revoked, it is listed as ended
	// (and no longer as active), bert's not at all.
	if ended, err := s.ListEndedSessions(ctx, anna.ID, t0); err != nil || ended == nil || len(ended) != 0 {
		t.Errorf("ListEndedSessions before any ended: %v, %v; want an empty list", ended, err)
	}
	must(t, "RevokeSession", s.RevokeSession(ctx, anna.Session.Hash, t0.Add(time.Minute)))
	ended, err := s.ListEndedSessions(ctx, anna.ID, t0.Add(2*time.Minute))
	must(t, "ListEndedSessions", err)
	if len(ended) != 1 || ended[0].Hash != anna.Session.Hash || ended[0].RevokedAt.IsZero() {
		t.Errorf("ListEndedSessions after the revocation: %+v, want her session, revoked", ended)
	}
	if expired, err := s.ListEndedSessions(ctx, bert.ID, bert.Session.ExpiresAt); err != nil || len(expired) != 1 {
		t.Errorf("ListEndedSessions at bert's session's expiry: %d, %v; want it", len(expired), err)
	}
	invs, err := s.ListUserInvitations(ctx, anna.ID)
	must(t, "ListUserInvitations", err)
	if len(invs) != 1 || invs[0].UserID != anna.ID {
		t.Errorf("ListUserInvitations: %+v, want her one invitation", invs)
	}
	if none, err := s.ListUserInvitations(ctx, "nobody"); err != nil || none == nil || len(none) != 0 {
		t.Errorf("ListUserInvitations of nobody: %v, %v; want an empty list", none, err)
	}

	all, err := s.ListPersonAudit(ctx, anna.User, 0, 0)
	must(t, "ListPersonAudit", err)
	var actions []string
	for i, e := range all {
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Errorf("ListPersonAudit not in order of Seq: %d after %d", e.Seq, all[i-1].Seq)
		}
		text := e.Actor + " " + e.Subject + " " + strings.Join(mapValues(e.Details), " ")
		if strings.Contains(text, bert.ID) || strings.Contains(text, bert.Email) {
			t.Errorf("ListPersonAudit of anna gave bert's event %d %s", e.Seq, e.Action)
		}
		actions = append(actions, e.Action)
	}
	// By subject (signin, password.set), by a detail naming her id
	// (group.add_member) and by her address (letters.print).
	for _, want := range []string{"signin", "password.set", "group.add_member", "letters.print", "user.create"} {
		if !slices.Contains(actions, want) {
			t.Errorf("ListPersonAudit of anna: %v, missing %s", actions, want)
		}
	}
	page, err := s.ListPersonAudit(ctx, anna.User, all[0].Seq, 2)
	must(t, "ListPersonAudit", err)
	if len(page) != 2 || page[0].Seq != all[1].Seq || page[1].Seq != all[2].Seq {
		t.Errorf("ListPersonAudit after %d, limit 2: %v, want events %d and %d", all[0].Seq, page, all[1].Seq, all[2].Seq)
	}

	// What the erasure redacts is exactly what was listed.
	erased, err := s.EraseUser(ctx, authn.Erasure{UserID: anna.ID, At: t0, Audit: ev("user.erase", authn.Pseudonym(anna.ID))})
	must(t, "EraseUser", err)
	if erased.Redacted != len(all) {
		t.Errorf("EraseUser redacted %d events, ListPersonAudit listed %d", erased.Redacted, len(all))
	}
	if left, err := s.ListPersonAudit(ctx, anna.User, 0, 0); err != nil || len(left) != 0 {
		t.Errorf("ListPersonAudit after the erasure: %d events, %v; want none", len(left), err)
	}
}

// testPersonRecords (review of #15): ListPersonRecords gives her
// registration, her recoveries, the notice of deletion, her e-mail
// confirmations, notice letters and freeze links, hers only, without
// their hashes.
func testPersonRecords(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bert := FullPerson(t, s, "anna"), FullPerson(t, s, "bert")
	rec := mkRecovery(t, s, anna.User, t0)
	mkRecovery(t, s, bert.User, t0)
	must(t, "PutInactiveNotice", s.PutInactiveNotice(ctx, anna.ID, t0.Add(time.Hour)))
	got, err := s.ListPersonRecords(ctx, anna.ID)
	must(t, "ListPersonRecords", err)
	if _, ok := s.(authn.RegistrationStore); ok && (got.Registration.Email != anna.Email || !got.Registration.CreatedAt.Equal(micro(t0))) {
		t.Errorf("registration %+v, want hers", got.Registration)
	}
	if len(got.Recoveries) != 1 || got.Recoveries[0].ID != rec.ID || got.Recoveries[0].Email != anna.Email ||
		got.Recoveries[0].Link != (authn.TokenHash{}) || got.Recoveries[0].Binding != (authn.TokenHash{}) {
		t.Errorf("recoveries %+v, want her one, without hashes", got.Recoveries)
	}
	if !got.InactiveNotice.Equal(micro(t0.Add(time.Hour))) {
		t.Errorf("notice of deletion %v, want %v", got.InactiveNotice, t0.Add(time.Hour))
	}
	if _, ok := s.(authn.EmailStore); ok && (len(got.EmailConfirmations) != 1 || got.EmailConfirmations[0].Email != anna.Email ||
		got.EmailConfirmations[0].TokenHash != (authn.TokenHash{})) {
		t.Errorf("e-mail confirmations %+v, want her one, without its hash", got.EmailConfirmations)
	}
	if len(got.NoticeLetters) != 1 || got.NoticeLetters[0].Kind != authn.NoticeFactorAdded || got.NoticeLetters[0].UserID != anna.ID {
		t.Errorf("notice letters %+v, want her one", got.NoticeLetters)
	}
	if len(got.FreezeTokens) != 1 || got.FreezeTokens[0].Hash != (authn.TokenHash{}) || got.FreezeTokens[0].CreatedAt.IsZero() {
		t.Errorf("freeze links %+v, want her one, without its hash", got.FreezeTokens)
	}
	none, err := s.ListPersonRecords(ctx, "nobody")
	must(t, "ListPersonRecords of nobody", err)
	if len(none.Recoveries)+len(none.EmailConfirmations)+len(none.NoticeLetters)+len(none.FreezeTokens) != 0 ||
		!none.InactiveNotice.IsZero() || !none.Registration.CreatedAt.IsZero() {
		t.Errorf("records of nobody: %+v", none)
	}
}
