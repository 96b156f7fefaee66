package sqlstore

import (
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestAuditNotUTF8 (#17): an event whose texts are not valid UTF-8 (a
// Latin-1 "ä" in a name, a stray byte in a reason, a detail's key) is
// stored on both backends, and the chain verifies over what is stored:
// the hash covers the text as kept (U+FFFD for each stray byte), not the
// bytes given. The event after it still fits.
func TestAuditNotUTF8(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openURL(t, b.url(t))
			ctx := t.Context()
			now := time.Now()
			err := s.AppendAudit(ctx,
				authn.AuditEvent{Time: now, Actor: "cli:r\xf6ot", Action: "user.create", Subject: "user:x",
					Reason: "Gr\xfc\xdfe", Details: map[string]string{"display_name": "Anna \xe4", "k\xff": "v", "k\xfe": "w"}},
				authn.AuditEvent{Time: now, Actor: "system", Action: "test", Details: map[string]string{"a": "<b>&"}})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := s.ListAudit(ctx, authn.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if _, seq, err := authn.VerifyChain([32]byte{}, 0, evs); err != nil || seq != 2 {
				t.Fatalf("verify: %d events, %v", seq, err)
			}
			if got := evs[0].Details["display_name"]; got != "Anna \uFFFD" {
				t.Errorf("display_name stored as %q", got)
			}
			if evs[0].Reason != "Gr\uFFFD\uFFFDe" || evs[0].Actor != "cli:r\uFFFDot" {
				t.Errorf("reason %q, actor %q", evs[0].Reason, evs[0].Actor)
			}
			if err := s.CheckAuditHead(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
