package authn_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// optionsShape is everything the options of a key ceremony show except
// the challenge and the bytes of the credential ids: each entry of
// allowCredentials reduced to its fields and the length of its id.
func optionsShape(tb testing.TB, options []byte) string {
	tb.Helper()
	var o struct {
		PublicKey map[string]any `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		tb.Fatalf("options %s: %v", options, err)
	}
	delete(o.PublicKey, "challenge")
	allow, _ := o.PublicKey["allowCredentials"].([]any)
	for i, a := range allow {
		entry := a.(map[string]any)
		id, err := base64.RawURLEncoding.DecodeString(entry["id"].(string))
		if err != nil {
			tb.Fatalf("credential id %v: %v", entry["id"], err)
		}
		entry["id"] = len(id)
		allow[i] = entry
	}
	b, err := json.Marshal(o.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestKeyOptionsTellNothing: the first step and the options of the key
// ceremony have the same shape for a person with one key, with three,
// without any factor, with only recovery codes, with only an app (who
// starts at the app and switches to the key), and for 300 unknown names
// (those first sent to the app switch too): as many entries, ids as long,
// no transports (a real key's own would tell it from a fake one). A
// person with six keys gets six entries, and so do about as many unknown
// names (and people without keys) as there are such people among those
// with keys (here a third).
func TestKeyOptionsTellNothing(t *testing.T) {
	e := newEnv(t)
	e.keys("anna", 1)
	bernd := e.user("bernd", authn.SourceLocal)
	for range 3 {
		e.addKey(bernd, false, true, 0) // transports "usb"
	}
	frida := e.user("frida", authn.SourceLocal)
	for range 6 {
		e.addKey(frida, false, true, 0)
	}
	e.user("carla", authn.SourceLocal) // nothing yet
	e.addApp(e.user("erik", authn.SourceLocal))
	dora := e.user("dora", authn.SourceLocal)
	if err := e.store.ReplaceRecoveryCodes(e.ctx(), dora.ID, []authn.TokenHash{authn.HashRecoveryCode("x")}, audit("recovery.replace", dora.ID)); err != nil {
		t.Fatal(err)
	}
	e.restart() // a process that starts with these keys

	shape := func(name string, first authn.Step) string {
		t.Helper()
		p := e.start(name, first)
		if first != authn.StepKey {
			var err error
			if p, err = e.si.SwitchTo(e.ctx(), p.PendingID, authn.StepKey); err != nil {
				t.Fatalf("%s: switch to the key: %v", name, err)
			}
		}
		opts, _ := e.beginKey(p)
		if o := readOptions(t, opts); len(o.Allow) > 0 && len(o.Allow[0].Transports) > 0 {
			t.Errorf("%s: options name transports: %s", name, opts)
		}
		return optionsShape(t, opts)
	}
	want := shape("anna", authn.StepKey)
	if got := shape("bernd", authn.StepKey); got != want {
		t.Errorf("bernd: options\n%s\nanna's\n%s", got, want)
	}
	six := shape("frida", authn.StepKey)
	if n := strings.Count(six, `"public-key"`); n != 6 {
		t.Errorf("frida's options list %d keys, want her 6", n)
	}
	// People without keys get fake ones as unknown names do.
	for name, first := range map[string]authn.Step{"carla": authn.StepKey, "dora": authn.StepKey, "erik": authn.StepTOTP} {
		if got := shape(name, first); got != want && got != six {
			t.Errorf("%s: options\n%s\nanna's\n%s", name, got, want)
		}
	}
	unknown := map[string]int{}
	for i := range 300 {
		name := fmt.Sprintf("niemand%d", i)
		p, err := e.si.Start(e.ctx(), name, "/account", client)
		if err != nil {
			t.Fatal(err)
		}
		unknown[shape(name, p.Next)]++
	}
	if unknown[six] < 70 || unknown[six] > 130 || unknown[want]+unknown[six] != 300 {
		for got, n := range unknown {
			t.Logf("%d unknown names: options\n%s", n, got)
		}
		t.Errorf("of 300 unknown names, %d have anna's options and %d frida's; want all one or the other, about a third frida's\n%s\n%s",
			unknown[want], unknown[six], want, six)
	}
}
