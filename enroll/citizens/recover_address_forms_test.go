package citizens_test

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// TestRecoveryFindsStoredAddressForms: CanonicalEmail gives domains in
// Unicode, but a directory person's mail is stored as the directory holds
// it (in ACE, "xn--"), and a citizen who registered before has her address
// in ACE too (no migration rewrote them). Whichever form she types, her
// recovery link is mailed to her, once. (A stored "Anna@MÜLLER.de" is not
// found on SQLite, whose lower() changes ASCII letters only; PostgreSQL
// finds it.)
func TestRecoveryFindsStoredAddressForms(t *testing.T) {
	for _, c := range []struct{ stored, asked string }{
		{"anna@xn--mller-kva.de", "anna@xn--mller-kva.de"},
		{"anna@xn--mller-kva.de", "Anna@Müller.de"},
		{"Anna@XN--MLLER-KVA.DE", "anna@müller.de"},
		{"anna@müller.de", "anna@xn--mller-kva.de"},
		{"anna@müller.de", "anna@müller.de"},
	} {
		stored := c.stored
		t.Run(c.stored+" asked as "+c.asked, func(t *testing.T) {
			ctx := t.Context()
			e := newRecoverEnv(t, "anna", stored, time.Now)
			svc, mail := e.svc, e.mail
			req, err := svc.AskRecovery(ctx, c.asked, authn.HashToken(citizens.NewRecoveryToken()), authn.ClientInfo{Addr: "192.0.2.1"})
			if err != nil {
				t.Fatalf("AskRecovery(%q): %v", c.asked, err)
			}
			svc.QueueRecovery(req)()
			svc.WaitRecoveries()
			if msgs := mail.take(); len(msgs) != 1 {
				t.Errorf("stored e-mail %q, asked as %q: %d recovery mails, want 1", stored, c.asked, len(msgs))
			}
		})
	}
}
