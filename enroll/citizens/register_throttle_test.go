package citizens

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestStrangerCannotBlockHerRegistration (review of #15): a stranger who
// registers her address five times from his network does not make her own
// registration, from her network, refused; registering it from many
// networks sends at most 10 mails to the address in the hour.
func TestStrangerCannotBlockHerRegistration(t *testing.T) {
	fx := newFixture(t, dialects[0].url(t))
	ctx := t.Context()
	start := func(addr string) error {
		return fx.svc.Start(ctx, Request{Email: "ida@example.org", DisplayName: "Ida", Binding: browserA,
			Client: authn.ClientInfo{Addr: addr}})
	}
	for i := range registerAddrLimit {
		if err := start("2001:db8:6666::1"); err != nil {
			t.Fatalf("stranger's registration %d: %v", i+1, err)
		}
	}
	if err := start("2001:db8:6666::2"); !IsRegisterReason(err, RegisterThrottled) {
		t.Errorf("the stranger's registration %d from one network: %v, want refused", registerAddrLimit+1, err)
	}
	if err := start("192.0.2.10"); err != nil {
		t.Errorf("her own registration after %d of a stranger: %v", registerAddrLimit, err)
	}
	for i := range 12 {
		for range 2 {
			if err := start(fmt.Sprintf("198.51.%d.1", 100+i)); err != nil {
				t.Fatalf("stranger's registration from network %d: %v", i, err)
			}
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if left := fx.svc.Drain(ctx2); left != 0 {
		t.Fatalf("%d registration mails not sent", left)
	}
	if n := len(fx.mail.ch); n > 10 {
		t.Errorf("%d registration mails to one address in an hour, want at most 10", n)
	}
}
