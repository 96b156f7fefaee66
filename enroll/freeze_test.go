package enroll_test

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

var freezeLinkRE = regexp.MustCompile(regexp.QuoteMeta(origin) + `/freeze/[A-Za-z0-9_-]{43}`)

// TestResetSuspendsUntilANewFactor: a reset suspends her key (kept, but not
// hers to sign in with) and hands out a freeze link; the key she registers
// with the new invitation deletes the suspended one.
func TestResetSuspendsUntilANewFactor(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	anna := f.user(t, "anna")
	old, _, err := f.register(t, f.redeemOn(t, f.svc, anna).ID, keyReg{fmt: "none"})
	must(t, err)
	inv, rep, err := f.svc.Reset(ctx, anna.ID, 0, "cli:helpdesk", "Schlüssel verloren")
	must(t, err)
	if rep.Keys != 1 || !freezeLinkRE.MatchString(rep.FreezeLink) {
		t.Errorf("report %+v: want one key and a freeze link", rep)
	}
	if sus, err := f.store.ListSuspendedCredentials(ctx, anna.ID); err != nil || len(sus) != 1 || sus[0].ID != old.Credential.ID {
		t.Fatalf("suspended after the reset: %+v, %v", sus, err)
	}
	pr, err := f.svc.Redeem(ctx, enroll.Redemption{Username: "anna", Code: inv.Code})
	must(t, err)
	_, _, err = f.register(t, pr.ID, keyReg{fmt: "none"})
	must(t, err)
	if sus, err := f.store.ListSuspendedCredentials(ctx, anna.ID); err != nil || len(sus) != 0 {
		t.Errorf("suspended after her new key: %d, %v", len(sus), err)
	}
	creds, err := f.store.ListCredentials(ctx, anna.ID)
	must(t, err)
	if len(creds) != 1 || creds[0].ID == old.Credential.ID {
		t.Errorf("credentials after the new key: %+v", creds)
	}
}

// TestFreezeLink: the link of a reset's notice shows whom it is for without
// changing anything, then freezes her once; while frozen she cannot enroll.
// A factor added mails a link of its own.
func TestFreezeLink(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mail := &recorder{}
	f.rebuild(t, mail, nil)
	anna := f.user(t, "anna")
	anna, err := f.store.UpdateUser(ctx, anna.ID, func(u authn.User) (authn.User, error) {
		u.Email = "anna@stadt.example"
		return u, nil
	}, authn.AuditEvent{Time: f.clock.now(), Actor: "test", Action: "user.update"})
	must(t, err)
	_, _, err = f.register(t, f.redeemOn(t, f.svc, anna).ID, keyReg{fmt: "none"})
	must(t, err)
	sent := mail.take()
	if len(sent) != 1 || !freezeLinkRE.MatchString(sent[0].Body) {
		t.Fatalf("mail of the new key: %+v, want one with a freeze link", sent)
	}
	added := token(freezeLinkRE.FindString(sent[0].Body))

	_, rep, err := f.svc.Reset(ctx, anna.ID, 0, "cli:helpdesk", "Anruf")
	must(t, err)
	tok := token(rep.FreezeLink)
	u, err := f.svc.FreezeTarget(ctx, tok)
	if err != nil || u.ID != anna.ID {
		t.Fatalf("FreezeTarget = %+v, %v", u, err)
	}
	if u, _ := f.store.GetUser(ctx, anna.ID); u.Status != authn.StatusActive {
		t.Fatalf("FreezeTarget changed her status to %q", u.Status)
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", 43), tok[:42] + "!", tok + "A"} {
		_, err := f.svc.Freeze(ctx, bad, "192.0.2.1")
		wantReason(t, "Freeze("+bad+")", err, enroll.ReasonWrongCode)
	}
	frep, err := f.svc.Freeze(ctx, tok, "192.0.2.9")
	must(t, err)
	if frep.UserID != anna.ID || frep.Invitations != 1 {
		t.Errorf("freeze report %+v: want her reset's invitation voided", frep)
	}
	_, err = f.svc.Freeze(ctx, tok, "192.0.2.9")
	wantReason(t, "Freeze(used)", err, enroll.ReasonUsed)
	_, err = f.svc.FreezeTarget(ctx, tok)
	wantReason(t, "FreezeTarget(used)", err, enroll.ReasonUsed)
	events, err := f.store.ListAudit(ctx, authn.AuditFilter{Subject: "user:" + anna.ID, Limit: 100})
	must(t, err)
	if last := events[len(events)-1]; last.Action != "user.frozen" || last.Actor != "user:"+anna.ID || last.ClientAddr != "192.0.2.9" {
		t.Errorf("last event %+v", last)
	}

	// IT issues a new invitation before it looked: she cannot enroll.
	inv, err := f.svc.Issue(ctx, anna.ID, 0, "cli:helpdesk", "")
	must(t, err)
	_, err = f.svc.Redeem(ctx, enroll.Redemption{Token: token(inv.Link)})
	wantReason(t, "Redeem while frozen", err, enroll.ReasonFrozen)
	if e, ok := errors.AsType[*enroll.Error](err); !ok || !strings.Contains(e.DE, "Ihr Konto ist gesperrt") || !strings.Contains(e.DE, "IT") ||
		!strings.Contains(e.EN, "frozen") {
		t.Errorf("refusal %v: want it to say the account is frozen and to contact IT", err)
	}

	// The link of the first mail is valid for FreezeTokenTTL.
	f.clock.add(authn.FreezeTokenTTL)
	_, err = f.svc.Freeze(ctx, added, "192.0.2.9")
	wantReason(t, "Freeze(expired)", err, enroll.ReasonExpired)
}

// FuzzParseFreezeToken: any string is parsed without a panic, and what is
// accepted is exactly the canonical form of 32 bytes.
func FuzzParseFreezeToken(f *testing.F) {
	f.Add(enroll.NewFreezeToken())
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("_", 43))
	f.Add("")
	f.Add(strings.Repeat("A", 42) + "B") // not canonical: the last symbol has bits past the 32 bytes
	f.Fuzz(func(t *testing.T, s string) {
		h, err := enroll.ParseFreezeToken(s)
		if err != nil {
			return
		}
		b, derr := base64.RawURLEncoding.DecodeString(s)
		if derr != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != s {
			t.Fatalf("accepted %q, which is not a canonical 32-byte token", s)
		}
		if h != authn.HashToken(s) {
			t.Fatalf("hash of %q is not its stored hash", s)
		}
	})
}
