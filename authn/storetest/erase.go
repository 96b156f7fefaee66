package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunErase runs the conformance cases of authn.EraseStore. newStore must
// return a fresh, empty store.
func RunErase(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store)
	}{
		{"EraseRemovesEverything", testEraseRemovesEverything},
		{"EraseUnknown", testEraseUnknown},
		{"PersonData", testPersonData},
		{"PersonRecords", testPersonRecords},
		{"EraseKeepsLastMember", testEraseKeepsLastMember},
		{"EraseUnusedAfter", testEraseUnusedAfter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// Person is one with a row in every table a person can have rows in.
type Person struct {
	authn.User
	Session authn.Session
	Grant   authn.OIDCAuthRequest
	Tokens  []authn.OIDCToken
}

// FullPerson creates a person called name with a key, an app, recovery
// codes, a password, a group, a session, an OIDC grant with tokens, an
// invitation, a pending enrollment, a pending sign-in mark, an e-mail
// confirmation, a freeze link, a notice letter, throttle counters, and
// audit events that name her by id, username and address.
func FullPerson(t *testing.T, s authn.Store, name string) Person {
	t.Helper()
	ctx := t.Context()
	u := mkUser(t, s, name)
	mkCredential(t, s, newKey(u, t0))
	mkCredential(t, s, newApp(u, t0))
	must(t, "ReplaceRecoveryCodes", s.ReplaceRecoveryCodes(ctx, u.ID, []authn.TokenHash{{1, 2}, {3, 4}}, ev("recovery_codes.replace", "user:"+u.ID)))
	must(t, "SetPasswordHash", s.SetPasswordHash(ctx, u.ID, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", ev("password.set", "user:"+u.ID)))
	g := authn.Group{ID: authn.NewID(), Name: "gruppe-" + strings.ToLower(authn.NewID()[:8]), Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, g, ev("group.create", "group:"+g.ID)))
	add := ev("group.add_member", "group:"+g.ID)
	add.Details = map[string]string{"user_id": u.ID, "username": u.Username}
	must(t, "AddMember", s.AddMember(ctx, g.ID, u.ID, add))
	p := Person{User: u, Session: mkSession(t, s, u, t0)}
	inv := mkInvitation(t, s, u, "invitation of "+u.ID, t0)
	must(t, "PutEnrollPending", s.PutEnrollPending(ctx, authn.EnrollPending{Hash: authn.PendingHash(hashOf("enroll " + u.ID)),
		UserID: u.ID, InvitationID: inv.ID, Scope: authn.ScopeAll, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	r := newAuthRequest()
	r.LoginHint, r.HintSubject = u.Username, u.ID
	must(t, "CreateOIDCAuthRequest", s.CreateOIDCAuthRequest(ctx, r))
	in := authn.OIDCSignIn{UserID: u.ID, AMR: []string{"hwk"}, ACR: "phrh", AuthTime: t0, Session: p.Session.Hash}
	must(t, "CompleteOIDCAuthRequest", s.CompleteOIDCAuthRequest(ctx, r.ID, in, t0))
	p.Grant, _ = s.GetOIDCAuthRequest(ctx, r.ID)
	p.Tokens = newTokens(p.Grant, "refresh of "+u.ID)
	must(t, "CreateOIDCTokens", s.CreateOIDCTokens(ctx, p.Tokens...))
	// Rows that go with her by foreign key: a confirmation mailed to her
	// address, a "this was not me" link, a notice letter to print.
	if es, ok := s.(authn.EmailStore); ok {
		must(t, "CreateEmailConfirmation", es.CreateEmailConfirmation(ctx, authn.EmailConfirmation{TokenHash: hashOf("confirm " + u.ID),
			UserID: u.ID, Email: u.Email, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, ev("email.confirm_sent", "user:"+u.ID)))
	}
	must(t, "CreateFreezeToken", s.CreateFreezeToken(ctx, authn.FreezeToken{Hash: hashOf("freeze " + u.ID), UserID: u.ID,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, "QueueNoticeLetter", s.QueueNoticeLetter(ctx, authn.NoticeLetter{ID: authn.NewID(), UserID: u.ID,
		Kind: authn.NoticeFactorAdded, Detail: "Schlüssel von " + u.DisplayName, CreatedAt: t0}))
	for _, k := range append(authn.ThrottleKeys(u.Username)[:1], authn.DeviceThrottlePrefixes(u.ID)[0]+"dev1") {
		if _, err := s.HitThrottle(ctx, k, t0, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	signin := authn.AuditEvent{Time: t0, Actor: "user:" + u.ID, Action: "signin", Subject: "user:" + u.ID,
		ClientAddr: "198.51.100.9", Details: map[string]string{"method": "key"}}
	mention := authn.AuditEvent{Time: t0, Actor: "cli:root", Action: "letters.print", Reason: "Brief an " + u.DisplayName,
		Details: map[string]string{"to": u.Email}}
	must(t, "AppendAudit", s.AppendAudit(ctx, signin, mention))
	if rs, ok := s.(authn.RegistrationStore); ok { // she registered herself
		must(t, "CreateRegistration", rs.CreateRegistration(ctx, authn.Registration{UserID: u.ID, Email: u.Email, CreatedAt: t0}))
	}
	return p
}

func testEraseRemovesEverything(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna, bert := FullPerson(t, s, "anna"), FullPerson(t, s, "bert")
	// Bert's event has her username as a value and a key, not as a
	// person: it stays. An approval she asked for names her by id.
	collide := authn.AuditEvent{Time: t0, Actor: "user:" + bert.ID, Action: "role.requested", Subject: "user:" + bert.ID,
		Details: map[string]string{"role": anna.Username, anna.Username: "x", "note": anna.Email + " (cc)"}}
	asked := authn.AuditEvent{Time: t0, Actor: "cli:root", Action: "reset.approved", Subject: "approval:1",
		Details: map[string]string{"requested_by": "user:" + anna.ID}}
	must(t, "AppendAudit", s.AppendAudit(ctx, collide, asked))
	at := t0.Add(time.Hour)
	erase := authn.AuditEvent{Time: at, Actor: authn.Pseudonym(anna.ID), Action: "user.erase", Subject: authn.Pseudonym(anna.ID)}
	got, err := s.EraseUser(ctx, authn.Erasure{UserID: anna.ID, At: at, ThrottleKeys: authn.ThrottleKeys(anna.Username),
		ThrottlePrefixes: authn.DeviceThrottlePrefixes(anna.ID), Audit: erase})
	must(t, "EraseUser", err)
	if got.User.ID != anna.ID || got.User.Email != anna.Email {
		t.Errorf("EraseUser returned %+v, want anna as stored", got.User)
	}
	if len(got.Grants) != 1 || got.Grants[0].ClientID != anna.Grant.ClientID {
		t.Errorf("EraseUser returned grants %+v, want anna's one grant (for back-channel logout)", got.Grants)
	}
	if _, err := s.GetUser(ctx, anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("GetUser after erasure: %v, want ErrNotFound", err)
	}
	if _, err := s.GetUserByUsername(ctx, anna.Username); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("GetUserByUsername after erasure: %v, want ErrNotFound", err)
	}
	if _, err := s.GetSession(ctx, anna.Session.Hash); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("GetSession after erasure: %v, want ErrNotFound (the session must end at once)", err)
	}
	if _, err := s.GetOIDCToken(ctx, anna.Tokens[1].ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("GetOIDCToken after erasure: %v, want ErrNotFound", err)
	}
	if _, err := s.GetOIDCAuthRequest(ctx, anna.Grant.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("GetOIDCAuthRequest after erasure: %v, want ErrNotFound", err)
	}
	if n, err := s.ThrottleCount(ctx, authn.ThrottleKeys(anna.Username)[0], t0, time.Hour); err != nil || n != 0 {
		t.Errorf("her throttle counter after erasure: %d, %v", n, err)
	}
	if n, err := s.ThrottleCount(ctx, authn.DeviceThrottlePrefixes(anna.ID)[0]+"dev1", t0, time.Hour); err != nil || n != 0 {
		t.Errorf("her browser's throttle counter after erasure: %d, %v", n, err)
	}
	// Bert keeps everything.
	if n, err := s.ThrottleCount(ctx, authn.DeviceThrottlePrefixes(bert.ID)[0]+"dev1", t0, time.Hour); err != nil || n != 1 {
		t.Errorf("bert's browser's throttle counter after anna's erasure: %d, %v", n, err)
	}
	if _, err := s.GetSession(ctx, bert.Session.Hash); err != nil {
		t.Errorf("bert's session after anna's erasure: %v", err)
	}
	if c, err := s.ListCredentials(ctx, bert.ID); err != nil || len(c) != 2 {
		t.Errorf("bert's credentials after anna's erasure: %d, %v", len(c), err)
	}
	events, err := s.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	if _, _, err := authn.VerifyChain([32]byte{}, 0, events); err != nil {
		t.Fatalf("the audit chain after erasure: %v", err)
	}
	if last := events[len(events)-1]; last.Action != "user.erase" || last.Redacted {
		t.Errorf("last event %+v, want the erasure, not redacted", last)
	}
	redacted, bertsRedacted := 0, 0
	for _, e := range events {
		text := strings.Join([]string{e.Actor, e.Subject, e.Reason, e.ClientAddr, strings.Join(mapValues(e.Details), " ")}, " ")
		for _, v := range []string{anna.ID, anna.Email, anna.DisplayName, "198.51.100.9"} {
			if e.Action != "user.erase" && strings.Contains(text, v) && !strings.Contains(text, bert.ID) {
				t.Errorf("event %d %s still names anna (%q): %q", e.Seq, e.Action, v, text)
			}
		}
		if e.Redacted {
			redacted++
			if strings.Contains(e.Subject, bert.ID) || strings.Contains(e.Actor, bert.ID) {
				bertsRedacted++
			}
		}
	}
	if redacted == 0 || redacted != got.Redacted {
		t.Errorf("%d events redacted, EraseUser said %d", redacted, got.Redacted)
	}
	if bertsRedacted != 0 {
		t.Errorf("%d of bert's events were redacted", bertsRedacted)
	}
	her, err := s.RecentAudit(ctx, authn.Pseudonym(anna.ID), "signin", 10)
	must(t, "RecentAudit", err)
	if len(her) != 1 || !her[0].Redacted || !her[0].Time.Equal(micro(t0)) {
		t.Errorf("her sign-in under her pseudonym: %+v, want one redacted event at its time", her)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func testEraseUnknown(t *testing.T, s authn.Store) {
	ctx := t.Context()
	before, err := s.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	_, err = s.EraseUser(ctx, authn.Erasure{UserID: "nobody", At: t0, Audit: ev("user.erase", "erased:x")})
	if !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("EraseUser of nobody: %v, want ErrNotFound", err)
	}
	after, err := s.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
	must(t, "ListAudit", err)
	if len(after) != len(before) {
		t.Errorf("EraseUser of nobody appended %d events", len(after)-len(before))
	}
}

// testEraseUnusedAfter: an erasure with UnusedAfter erases nothing when
// she used her account after it (here a sign-in's session two hours after
// the rest of her), and erases her when she did not.
func testEraseUnusedAfter(t *testing.T, s authn.Store) {
	ctx := t.Context()
	anna := FullPerson(t, s, "anna")
	mkSession(t, s, anna.User, t0.Add(2*time.Hour))
	_, err := s.EraseUser(ctx, authn.Erasure{UserID: anna.ID, At: t0.Add(3 * time.Hour), UnusedAfter: t0.Add(time.Hour),
		Audit: ev("user.erase", authn.Pseudonym(anna.ID))})
	if !errors.Is(err, authn.ErrUsedSince) {
		t.Fatalf("EraseUser of one who used her account since: %v, want ErrUsedSince", err)
	}
	if _, err := s.GetUser(ctx, anna.ID); err != nil {
		t.Fatalf("she is gone after a refused erasure: %v", err)
	}
	_, err = s.EraseUser(ctx, authn.Erasure{UserID: anna.ID, At: t0.Add(3 * time.Hour), UnusedAfter: t0.Add(2 * time.Hour),
		Audit: ev("user.erase", authn.Pseudonym(anna.ID))})
	must(t, "EraseUser unused since", err)
	if _, err := s.GetUser(ctx, anna.ID); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("GetUser after the erasure: %v, want ErrNotFound", err)
	}
}
