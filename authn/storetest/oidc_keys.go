package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// testOIDCKeyRotation: a rotation retires the active key and activates the
// new one at the same moment, keeps the old one listed, is audited, and
// EnsureOIDCSigningKey then returns the new key, not a third one.
func testOIDCKeyRotation(t *testing.T, s authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	if _, err := o.ActiveOIDCSigningKeyID(ctx); !errors.Is(err, authn.ErrNotFound) {
		t.Fatalf("ActiveOIDCSigningKeyID of an empty store: %v, want ErrNotFound", err)
	}
	first, err := o.EnsureOIDCSigningKey(ctx, authn.OIDCSigningKey{ID: "k1", Algorithm: "ES256",
		PublicKey: []byte{1}, PrivateSealed: []byte{1, 1}, CreatedAt: t0})
	must(t, "EnsureOIDCSigningKey", err)
	if !first.ActivatedAt.Equal(micro(t0)) || !first.RetiredAt.IsZero() {
		t.Fatalf("first key read back as %+v, want activated at creation and not retired", first)
	}
	at := t0.Add(time.Hour)
	ev := authn.AuditEvent{Time: at, Actor: "cli:root", Action: "keys.rotate", Subject: "key:k2"}
	old, err := o.RotateOIDCSigningKey(ctx, authn.OIDCSigningKey{ID: "k2", Algorithm: "ES256",
		PublicKey: []byte{2}, PrivateSealed: []byte{2, 2}, CreatedAt: at, ActivatedAt: at}, ev)
	must(t, "RotateOIDCSigningKey", err)
	if old.ID != "k1" || !old.RetiredAt.Equal(micro(at)) {
		t.Errorf("rotation retired %+v, want k1 retired at %v", old, micro(at))
	}
	id, err := o.ActiveOIDCSigningKeyID(ctx)
	must(t, "ActiveOIDCSigningKeyID", err)
	active, err := o.EnsureOIDCSigningKey(ctx, authn.OIDCSigningKey{ID: "k3", Algorithm: "ES256",
		PublicKey: []byte{3}, PrivateSealed: []byte{3}, CreatedAt: at})
	must(t, "EnsureOIDCSigningKey after rotation", err)
	if id != "k2" || active.ID != "k2" || string(active.PrivateSealed) != "\x02\x02" {
		t.Errorf("after rotation the active key is %q / %+v, want k2", id, active)
	}
	keys, err := o.OIDCSigningKeys(ctx)
	must(t, "OIDCSigningKeys", err)
	if len(keys) != 2 || keys[0].ID != "k2" || keys[1].ID != "k1" || !keys[1].RetiredAt.Equal(micro(at)) ||
		!keys[0].RetiredAt.IsZero() || !keys[0].ActivatedAt.Equal(micro(at)) {
		t.Errorf("keys after rotation: %+v", keys)
	}
	evs, err := s.ListAudit(ctx, authn.AuditFilter{Subject: "key:k2"})
	must(t, "ListAudit", err)
	if len(evs) != 1 || evs[0].Action != "keys.rotate" {
		t.Errorf("audit of the rotation: %+v", evs)
	}
}
