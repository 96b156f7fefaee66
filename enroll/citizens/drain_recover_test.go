package citizens

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestDrainSendsRecoveryLinks (review of #16): at a graceful shutdown,
// Drain waits for the recovery links whose lookup was queued after the
// answer to /recover, as for registration mails, and counts those it
// could not send by its deadline.
func TestDrainSendsRecoveryLinks(t *testing.T) {
	fx := newFixture(t, dialects[0].url(t))
	fx.svc.cfg.EmailRecovery = func(groups []string) bool { return slices.Contains(groups, "buerger") }
	ctx := t.Context()
	now := time.Now()
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "test"}
	g := authn.Group{ID: authn.NewID(), Name: "buerger", Source: authn.SourceLocal, CreatedAt: now}
	if err := fx.store.CreateGroup(ctx, g, ev); err != nil {
		t.Fatal(err)
	}
	ask := func(i int) {
		t.Helper()
		addr := fmt.Sprintf("r%d@example.org", i)
		u := authn.User{ID: authn.NewID(), Username: addr, Email: addr, VerifiedEmail: addr,
			Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
		if err := fx.store.CreateUser(ctx, u, ev); err != nil {
			t.Fatal(err)
		}
		if err := fx.store.AddMember(ctx, g.ID, u.ID, ev); err != nil {
			t.Fatal(err)
		}
		req, err := fx.svc.AskRecovery(ctx, addr, authn.HashToken(NewRecoveryToken()), authn.ClientInfo{Addr: fmt.Sprintf("10.1.%d.1", i)})
		if err != nil {
			t.Fatal(err)
		}
		fx.svc.QueueRecovery(req)()
	}

	m := &slowMailer{}
	fx.svc.cfg.Mailer = m
	for i := range 5 {
		ask(i)
	}
	drain, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if n := fx.svc.Drain(drain); n != 0 {
		t.Errorf("Drain: %d mails not sent, want 0", n)
	}
	m.mu.Lock()
	sent := len(m.sent)
	m.mu.Unlock()
	if sent != 5 {
		t.Errorf("%d recovery links sent when Drain returned, want all 5", sent)
	}

	// A mail server that does not answer: Drain gives up at its deadline
	// and counts the links not sent.
	b := blockingMailer{release: make(chan struct{})}
	defer close(b.release)
	fx.svc.cfg.Mailer = b
	fx.svc.reg = newRegistrar(fx.svc, 20, 2)
	for i := range 3 {
		ask(10 + i)
	}
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if n := fx.svc.Drain(short); n != 3 {
		t.Errorf("Drain with the mail server stuck: %d not sent, want 3", n)
	}
}
