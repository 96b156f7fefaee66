package citizens_test

import (
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/enroll"
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
			st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "keyhall.db"), sqlstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			pub, _ := url.Parse("https://id.stadt.example")
			en, err := enroll.New(enroll.Config{Store: st, PublicURL: pub, EncryptionKey: [32]byte{1}, Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
			if err != nil {
				t.Fatal(err)
			}
			mail := &sentMail{}
			svc, err := citizens.New(citizens.Config{Store: st, Enroll: en, PublicURL: pub, Mailer: mail, Logger: slog.New(slog.DiscardHandler),
				EmailRecovery: func(groups []string) bool { return slices.Contains(groups, "buerger") }})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			ev := authn.AuditEvent{Time: now, Actor: "test", Action: "test"}
			anna := authn.User{ID: authn.NewID(), Username: "anna", Email: stored, VerifiedEmail: stored,
				Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
			g := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: now}
			for _, err := range []error{st.CreateUser(ctx, anna, ev), st.CreateGroup(ctx, g, ev), st.AddMember(ctx, g.ID, anna.ID, ev)} {
				if err != nil {
					t.Fatal(err)
				}
			}
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
