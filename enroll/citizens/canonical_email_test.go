package citizens

import (
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestRegistrationMailGoesToHerDomain (review of #15): "anna@straße.de"
// (IDNA2008: xn--strae-oqa.de) and "anna@strasse.de" are two mailboxes.
// Case folding made them one username, and the link for the first went to
// the second. Now an address that folding changes is refused, nothing is
// mailed; an address with an umlaut domain is mailed as she wrote it,
// lower-cased, and its punycode spelling is the same account.
func TestRegistrationMailGoesToHerDomain(t *testing.T) {
	fx := newFixture(t, "sqlite://"+t.TempDir()+"/k.db")
	ctx := t.Context()
	for _, email := range []string{"anna@straße.de", "anna@xn--strae-oqa.de", "große@example.org", "ANNAİ@example.org", "annaİ@example.org"} {
		err := fx.svc.Start(ctx, Request{Email: email, DisplayName: "Anna", Binding: browserA, Client: client})
		if !IsRegisterReason(err, RegisterInvalid) {
			t.Errorf("registration of %s: %v, want refused as invalid", email, err)
		}
	}
	select {
	case m := <-fx.mail.ch:
		t.Errorf("a refused address was mailed at %q", m.To)
	default:
	}
	if err := fx.svc.Start(ctx, Request{Email: "Anna@Müller.DE", DisplayName: "Anna", Binding: browserA, Client: client}); err != nil {
		t.Fatal(err)
	}
	if m := fx.mail.next(t); m.To != "anna@müller.de" {
		t.Errorf("she registered Anna@Müller.DE; the link was mailed to %q", m.To)
	}
	for in, want := range map[string]string{
		"Anna@Example.ORG":       "anna@example.org",
		"anna@xn--mller-kva.de":  "anna@müller.de",
		"anna@XN--MLLER-KVA.de":  "anna@müller.de",
		"ÄNNE@müller.de":         "änne@müller.de",
		" anna.b+x@example.org ": "anna.b+x@example.org",
	} {
		got, err := CanonicalEmail(in)
		if err != nil || got != want {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		if c, err := authn.CanonicalName(got); err != nil || c != got {
			t.Errorf("CanonicalEmail(%q) = %q is not a canonical username (%q, %v)", in, got, c, err)
		}
		if again, err := CanonicalEmail(got); err != nil || again != got {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want itself", got, again, err)
		}
	}
}

// FuzzCanonicalEmail: what CanonicalEmail accepts is its own canonical
// form and a canonical username, so a lookup by either finds the same.
func FuzzCanonicalEmail(f *testing.F) {
	for _, s := range []string{"anna@example.org", "Anna@Müller.de", "anna@straße.de", "a@xn--mller-kva.de", "ΑΣ@example.org", "x@ﬁ.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CanonicalEmail(s)
		if err != nil {
			return
		}
		if again, err := CanonicalEmail(c); err != nil || again != c {
			t.Fatalf("CanonicalEmail(%q) = %q; of that: %q, %v", s, c, again, err)
		}
		if n, err := authn.CanonicalName(c); err != nil || n != c {
			t.Fatalf("CanonicalEmail(%q) = %q; CanonicalName: %q, %v", s, c, n, err)
		}
	})
}

// TestRegisterAddressStoredInACE: a citizen who registered
// "anna@xn--mller-kva.de" before CanonicalEmail gave domains in Unicode
// has that username. Her address registered again, in either spelling,
// gets the "you already have an account" mail, not a link to a second
// account, and a link mailed before is refused.
func TestRegisterAddressStoredInACE(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx *fixture) {
		ctx := t.Context()
		link := fx.register(t, "anna@müller.de", browserA) // before the upgrade's account is found
		now := fx.clock.now()
		err := fx.store.CreateUser(ctx, authn.User{ID: authn.NewID(), Username: "anna@xn--mller-kva.de", Email: "anna@xn--mller-kva.de",
			VerifiedEmail: "anna@xn--mller-kva.de", Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now},
			authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"})
		if err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"anna@müller.de", "Anna@xn--mller-kva.de"} {
			if err := fx.svc.Start(ctx, Request{Email: email, DisplayName: "Anna", Binding: browserA, Client: client}); err != nil {
				t.Fatal(err)
			}
			if m := fx.mail.next(t); linkRE.MatchString(m.Body) || !strings.Contains(m.Subject, "bereits") {
				t.Errorf("registration of %s, whose ACE form has an account: %q, want the already-have-an-account mail", email, m.Subject)
			}
		}
		if _, err := fx.svc.Confirm(ctx, link, browserA, client); !IsRegisterReason(err, RegisterTaken) {
			t.Errorf("Confirm of anna@müller.de, whose ACE form has an account: %v, want taken", err)
		}
		if n := fx.people(t); n != 1 {
			t.Errorf("%d people, want her one account", n)
		}
	})
}
