package authn_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestFakeKeysStayWhenKeysAreAdded: an unknown name's fake credential ids
// do not follow every key registered or removed elsewhere, while a real
// person's real key id stays the same. Whoever asks for a name's options
// every day while people register keys (and Keyhall reads the keys' spread
// again) must not tell a real name (an id offered every time) from an
// unknown one (nothing in common): WebAuthn L3 §14.6.2.
func TestFakeKeysStayWhenKeysAreAdded(t *testing.T) {
	e := newEnv(t)
	key := func(u authn.User, n int) {
		id := make([]byte, n)
		rand.Read(id)
		c := authn.Credential{ID: authn.NewID(), UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "k", CreatedAt: t0,
			WebAuthnID: id, PublicKey: []byte{1}}
		if err := e.store.CreateCredential(e.ctx(), c, audit("credential.create", u.ID)); err != nil {
			t.Fatal(err)
		}
	}
	// A city: YubiKeys (64-byte ids) and passkeys (16-byte ids).
	for i := range 6 {
		key(e.user(fmt.Sprintf("yk%d", i), authn.SourceLocal), 64)
		key(e.user(fmt.Sprintf("pk%d", i), authn.SourceLocal), 16)
	}
	var real []string
	for i := range 20 {
		name := fmt.Sprintf("real%02d", i)
		key(e.user(name, authn.SourceLocal), 64)
		real = append(real, name)
	}
	e.restart()
	allow := func(name string) [][]byte {
		opts, _ := e.beginKey(e.start(name, authn.StepKey))
		var ids [][]byte
		for _, k := range readOptions(t, opts).Allow {
			ids = append(ids, []byte(k.ID))
		}
		return ids
	}
	var unknown []string
	for i := 0; len(unknown) < 20; i++ {
		name := fmt.Sprintf("ghost%03d", i)
		if p, err := e.si.Start(e.ctx(), name, "/", client); err == nil && p.Next == authn.StepKey {
			unknown = append(unknown, name)
		}
	}
	first := map[string][][]byte{}
	kept := map[string][][]byte{}
	for _, n := range append(append([]string{}, real...), unknown...) {
		first[n] = allow(n)
		kept[n] = first[n]
	}
	common := func(a, b [][]byte) [][]byte {
		var out [][]byte
		for _, x := range a {
			for _, y := range b {
				if bytes.Equal(x, y) {
					out = append(out, x)
					break
				}
			}
		}
		return out
	}
	// Over eight days, eight more people register a key (a passkey or a
	// YubiKey, one a day); each day a process reads the spread anew, and
	// the watcher asks once more.
	for day := range 8 {
		key(e.user(fmt.Sprintf("newcomer%d", day), authn.SourceLocal), []int{16, 64}[day%2])
		e.restart()
		for n, ids := range kept {
			kept[n] = common(ids, allow(n))
		}
	}
	changed, all := 0, 0
	for _, n := range unknown {
		if len(kept[n]) == 0 {
			t.Errorf("unknown name %s: none of its %d fake ids was offered on all nine days, while every real name keeps offering its key", n, len(first[n]))
		}
		changed += len(first[n]) - len(kept[n])
		all += len(first[n])
	}
	for _, n := range real {
		if len(kept[n]) == 0 {
			t.Fatalf("real name %s: its key was not offered every day", n)
		}
	}
	// The share of 16-byte ids went from 6/32 to 10/40 and back and forth:
	// a fake id may change to one of 16 bytes, for a few of them (each with
	// a chance of about 0.06; 11 of 80 here), never for most.
	t.Logf("fake ids of unknown names changed over the nine days: %d of %d", changed, all)
	if changed*5 > all {
		t.Errorf("%d of %d fake ids of unknown names changed over nine days with eight keys registered; want few (each changes with a chance of about 6%%)", changed, all)
	}
}
