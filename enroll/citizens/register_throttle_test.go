package citizens

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestStrangerCannotBlockHerRegistration (review of #15): a stranger who
// registers her address again and again from his network does not make
// her own registration, from her network, refused or unmailed; registering
// it from many networks sends at most 10 mails to the address in the hour.
func TestStrangerCannotBlockHerRegistration(t *testing.T) {
	drain := func(fx *fixture) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if left := fx.svc.Drain(ctx); left != 0 {
			t.Fatalf("%d registration mails not sent", left)
		}
		return len(fx.mail.ch)
	}
	startFor := func(fx *fixture) func(addr string) error {
		return func(addr string) error {
			return fx.svc.Start(t.Context(), Request{Email: "ida@example.org", DisplayName: "Ida", Binding: browserA,
				Client: authn.ClientInfo{Addr: addr}})
		}
	}

	// One stranger's network: five, then refused, however often he tries.
	fx := newFixture(t, dialects[0].url(t))
	start := startFor(fx)
	for i := range registerAddrLimit {
		if err := start("2001:db8:6666::1"); err != nil {
			t.Fatalf("stranger's registration %d: %v", i+1, err)
		}
	}
	for range 20 {
		if err := start("2001:db8:6666::2"); !IsRegisterReason(err, RegisterThrottled) {
			t.Fatalf("the stranger's registration past %d from one network: %v, want refused", registerAddrLimit, err)
		}
	}
	if err := start("192.0.2.10"); err != nil {
		t.Errorf("her own registration after a stranger's: %v", err)
	}
	if n := drain(fx); n != registerAddrLimit+1 {
		t.Errorf("%d mails, want the stranger's %d and hers", n, registerAddrLimit)
	}

	// Many networks: at most 10 mails to the address in the hour.
	fx = newFixture(t, dialects[0].url(t))
	start = startFor(fx)
	for i := range 12 {
		for range 2 {
			if err := start(fmt.Sprintf("198.51.%d.1", 100+i)); err != nil {
				t.Fatalf("stranger's registration from network %d: %v", i, err)
			}
		}
	}
	if n := drain(fx); n > 10 {
		t.Errorf("%d registration mails to one address in an hour, want at most 10", n)
	}
}
