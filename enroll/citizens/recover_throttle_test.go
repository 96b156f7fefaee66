package citizens_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/citizens"
)

// TestStrangerCannotBlockHerRecovery (review of #15): anyone who knows a
// citizen's address may ask /recover for it, but neither keeps her from
// asking herself nor floods her mailbox. Three requests of a stranger's
// network do not make hers refused; a stranger asking from many networks
// gets at most ten mails an hour sent to her; past that, her own request
// from a network she signed in from still gets its link.
func TestStrangerCannotBlockHerRecovery(t *testing.T) {
	ctx := t.Context()
	now := time.Now()
	e := newRecoverEnv(t, "anna@example.org", "anna@example.org", time.Now)
	st, svc, mail, anna := e.st, e.svc, e.mail, e.anna
	// She signed in from home (192.0.2.0/24) last month.
	signin := authn.AuditEvent{Time: now.Add(-30 * 24 * time.Hour), Actor: "user:" + anna.ID, Action: "signin",
		Subject: "user:" + anna.ID, ClientAddr: "192.0.2.44"}
	if err := st.AppendAudit(ctx, signin); err != nil {
		t.Fatal(err)
	}
	ask := func(addr string) error {
		t.Helper()
		req, err := svc.AskRecovery(ctx, "anna@example.org", authn.HashToken(citizens.NewRecoveryToken()), authn.ClientInfo{Addr: addr})
		if err == nil {
			svc.QueueRecovery(req)()
		}
		return err
	}

	// A stranger's network, three times: the fourth from it is refused ...
	for i := range 3 {
		if err := ask("2001:db8:6666::1"); err != nil {
			t.Fatalf("stranger's request %d: %v", i+1, err)
		}
	}
	if err := ask("2001:db8:6666::2"); !citizens.IsRecoveryReason(err, citizens.RecoverThrottled) {
		t.Errorf("the stranger's fourth request from one network: %v, want refused", err)
	}
	// ... hers, from her own network and browser, is not.
	if err := ask("192.0.2.10"); err != nil {
		t.Errorf("her own request after 3 of a stranger: %v", err)
	}
	// The stranger asks from many networks: at most ten mails in the hour.
	for i := range 12 {
		for range 2 {
			if err := ask(fmt.Sprintf("198.51.%d.1", 100+i)); err != nil {
				t.Fatalf("stranger's request from network %d: %v", i, err)
			}
		}
	}
	svc.WaitRecoveries()
	if n := len(mail.take()); n > 10 {
		t.Errorf("%d recovery mails to her address in an hour, want at most 10", n)
	}
	// Past the cap, a request from a network she never signed in from is
	// answered alike but not mailed; hers from home is.
	if err := ask("203.0.113.9"); err != nil {
		t.Fatal(err)
	}
	svc.WaitRecoveries()
	if msgs := mail.take(); len(msgs) != 0 {
		t.Errorf("a request past the cap from a strange network was mailed: %d mails", len(msgs))
	}
	if err := ask("192.0.2.11"); err != nil {
		t.Errorf("her own request past the cap: %v", err)
	}
	svc.WaitRecoveries()
	if msgs := mail.take(); len(msgs) != 1 || !tokenRE.MatchString(msgs[0].Body) {
		t.Errorf("her own request past the cap: %d mails, want her link", len(msgs))
	}
}
