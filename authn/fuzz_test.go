package authn_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyhall/keyhall/authn"
)

// FuzzFinishKey feeds arbitrary bytes as the browser's assertion, on the
// username path and on the passkey path: it must never panic and never
// sign anyone in.
func FuzzFinishKey(f *testing.F) {
	e := newEnv(f)
	anna := e.user("anna", authn.SourceLocal)
	d := e.addKey(anna, false, true, 0)
	opts, _ := e.beginKey(e.start("anna", authn.StepKey))
	f.Add(e.sign(d, opts, 1)) // well-formed, for another challenge
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"","authenticatorData":"","signature":""}}`))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, resp []byte) {
		var pendingID []byte
		if len(resp)%2 == 0 {
			p, err := e.si.Start(e.ctx(), "anna", "/", client)
			if err != nil {
				t.Fatal(err)
			}
			_, p, err = e.si.BeginKey(e.ctx(), p.PendingID)
			if err != nil {
				t.Fatal(err)
			}
			pendingID = p.PendingID
		} else {
			_, p, err := e.si.BeginPasskey(e.ctx(), "/", client)
			if err != nil {
				t.Fatal(err)
			}
			pendingID = p.PendingID
		}
		p, err := e.si.FinishKey(e.ctx(), pendingID, resp, client)
		if err == nil || p.Next == authn.StepDone || p.Next == authn.StepPassword {
			t.Fatalf("FinishKey accepted %q: %+v", resp, p)
		}
		reason(t, err) // a refusal, not a storage error
	})
}

// FuzzCheckNewPassword: never panics, and what it accepts meets the rules.
func FuzzCheckNewPassword(f *testing.F) {
	for _, s := range []string{"password", "korrekt Pferd Batterie", "ＰＡＳＳＷＯＲＤ", "\xff", strings.Repeat("é", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if authn.CheckNewPassword(pw) != nil {
			return
		}
		n := authn.NormalizePassword(pw)
		if !utf8.ValidString(pw) || utf8.RuneCountInString(n) < authn.MinPasswordLength || len(pw) > authn.MaxPasswordBytes {
			t.Fatalf("CheckNewPassword accepted %q", pw)
		}
		// Case does not matter to the list: the lower-case form is accepted too.
		if lower := strings.ToLower(n); len(lower) <= authn.MaxPasswordBytes && utf8.RuneCountInString(lower) >= authn.MinPasswordLength &&
			errors.Is(authn.CheckNewPassword(lower), authn.ErrPasswordCommon) {
			t.Fatalf("%q accepted but its lower case %q is common", pw, lower)
		}
	})
}
