package authn_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
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
// no transports (a real key's own would tell it from a fake one).
func TestKeyOptionsTellNothing(t *testing.T) {
	e := newEnv(t)
	e.keys("anna", 1)
	bernd := e.user("bernd", authn.SourceLocal)
	for range 3 {
		e.addKey(bernd, false, true, 0) // transports "usb"
	}
	e.user("carla", authn.SourceLocal) // nothing yet
	e.addApp(e.user("erik", authn.SourceLocal))
	dora := e.user("dora", authn.SourceLocal)
	if err := e.store.ReplaceRecoveryCodes(e.ctx(), dora.ID, []authn.TokenHash{authn.HashRecoveryCode("x")}, audit("recovery.replace", dora.ID)); err != nil {
		t.Fatal(err)
	}
	e.restart() // a process that starts with their keys the most common

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
	for name, first := range map[string]authn.Step{"bernd": authn.StepKey, "carla": authn.StepKey, "dora": authn.StepKey, "erik": authn.StepTOTP} {
		if got := shape(name, first); got != want {
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
		if got := shape(name, p.Next); got != want {
			unknown[got]++
		}
	}
	for got, n := range unknown {
		t.Errorf("%d unknown names: options\n%s\nanna's\n%s", n, got, want)
	}
}
