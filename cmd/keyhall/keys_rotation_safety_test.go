package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/web"
)

// TestRotateEncryptionWaitsForOldProcesses: while a serve process with
// only the old keys runs, rotate-encryption is refused, naming that
// process's fingerprint, and changes nothing; once it stopped, it goes
// ahead.
func TestRotateEncryptionWaitsForOldProcesses(t *testing.T) {
	t.Chdir(t.TempDir())
	s := newBackupSite(t)
	p := s.serve(t) // with the old keys, made in its key file
	old := s.readKeys(t)
	rotated := randomKeys()
	rotated.Cookie, rotated.OIDC, rotated.PreviousEncryption = old.Cookie, old.OIDC, old.Encryption
	env := keysEnv([]string{s.env[0]}, rotated)
	e := mustRun(t, env, 1, "admin", "keys", "rotate-encryption", "--reason", "test")
	if !strings.Contains(e, "serve process runs with other keys") || !strings.Contains(e, old.Fingerprint()) || !strings.Contains(e, "nothing was changed") {
		t.Errorf("rotate-encryption while a process with the old keys runs: %q", e)
	}
	p.stop(t)
	mustRun(t, env, 0, "admin", "keys", "rotate-encryption", "--reason", "test")
}

// TestRotateSigningKeyClockBehind: "admin keys rotate" on a machine whose
// clock is an hour behind: the retired key is still published for the
// whole grace (its retirement is the database's time), and the time printed
// says so.
func TestRotateSigningKeyClockBehind(t *testing.T) {
	onBothBackends(t, func(t *testing.T, env []string, url string) {
		ctx := context.Background()
		st := openTestStore(t, url).(*sqlstore.Store)
		keys := randomKeys()
		if err := checkKeys(ctx, st, keys); err != nil {
			t.Fatal(err)
		}
		_, first, err := web.InstallationKey(ctx, st, keys.Encryption, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		grace := 21 * time.Minute
		r, err := rotateSigningKey(ctx, st, keys, "test", grace, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if r.Retired != first {
			t.Fatalf("rotation retired %q, want the first key %s", r.Retired, first)
		}
		all, err := st.OIDCSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range all {
			if k.ID != r.Retired {
				continue
			}
			if until := k.RetiredAt.Add(grace); time.Until(until) < grace-time.Minute {
				t.Errorf("the retired key leaves the JWKS at %v, %v from now, want about %v", until, time.Until(until), grace)
			}
		}
		if time.Until(r.PublishedUntil) < grace-time.Minute {
			t.Errorf("rotate says the retired key is published until %v, %v from now, want about %v", r.PublishedUntil, time.Until(r.PublishedUntil), grace)
		}
	})
}

// TestKeysTwoPhaseRollout: docs/keys.md's step 1a — the new encryption key
// given first as previous_encryption_key, the old one still sealing — is
// let in and changes nothing in the database; step 1b (swapped) then takes
// the new keys over, and a process of step 1a still opens what it seals.
func TestKeysTwoPhaseRollout(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, "sqlite://"+t.TempDir()+"/keyhall.db").(*sqlstore.Store)
	old := randomKeys()
	if err := checkKeys(ctx, st, old); err != nil {
		t.Fatal(err)
	}
	fresh := randomKeys().Encryption
	accept := Keys{Cookie: old.Cookie, Encryption: old.Encryption, OIDC: old.OIDC, PreviousEncryption: fresh}
	if err := checkKeys(ctx, st, accept); err != nil {
		t.Fatalf("step 1a (new key accepted only): %v", err)
	}
	if fp, _, _ := st.Setting(ctx, "keys_fingerprint"); fp != old.Fingerprint() {
		t.Fatalf("step 1a changed the database's fingerprint to %s", fp)
	}
	sealing := Keys{Cookie: old.Cookie, Encryption: fresh, OIDC: old.OIDC, PreviousEncryption: old.Encryption}
	if err := checkKeys(ctx, st, sealing); err != nil {
		t.Fatalf("step 1b (new key seals): %v", err)
	}
	if fp, _, _ := st.Setting(ctx, "keys_fingerprint"); fp != sealing.Fingerprint() {
		t.Fatalf("step 1b did not take the new keys over: %s", fp)
	}
	sealed, err := authn.Seal(sealing.Encryption, []byte("geheim"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := authn.OpenRotated(accept.Encryption, accept.PreviousEncryption, sealed, []byte("ad")); err != nil || string(got) != "geheim" {
		t.Errorf("a process of step 1a opens what one of step 1b sealed: %q, %v", got, err)
	}
}

// TestCookieKeyRotationKeepsMadeUpIDs: the key IDs Keyhall makes up for a
// name nobody has stay the same across a rotation of the cookie key, as a
// real person's do: comparing the sign-in page's answers before and after
// does not tell which names have an account.
func TestCookieKeyRotationKeepsMadeUpIDs(t *testing.T) {
	s := newBackupSite(t)
	// madeUp returns, for a few names nobody has, the sign-in page's first
	// step and, for a key, the key IDs offered.
	madeUp := func(p *proc) string {
		t.Helper()
		var all []string
		for _, name := range []string{"niemand", "keiner", "nobody", "xaver", "zora", "quentin"} {
			r, err := postSignIn(p.url(""), "/login", formType, url.Values{"username": {name}}.Encode(), "")
			if err != nil || r.status != http.StatusSeeOther {
				t.Fatalf("POST /login: %d → %s, %v", r.status, r.location, err)
			}
			all = append(all, name+" "+r.location)
			if r.location != "/login/key" {
				continue
			}
			r, err = postSignIn(p.url(""), "/login/key/begin", "application/json", "{}", r.pending)
			var opts struct {
				PublicKey struct {
					AllowCredentials []struct{ ID string } `json:"allowCredentials"`
				} `json:"publicKey"`
			}
			if err != nil || r.status != http.StatusOK || json.Unmarshal(r.body, &opts) != nil {
				t.Fatalf("POST /login/key/begin: %d %s, %v", r.status, r.body, err)
			}
			for _, c := range opts.PublicKey.AllowCredentials {
				all = append(all, c.ID)
			}
		}
		return strings.Join(all, " ")
	}
	p := s.serve(t)
	before := madeUp(p)
	p.stop(t)
	old := s.readKeys(t)
	fresh := randomKeys().Cookie
	b64 := base64.StdEncoding.EncodeToString
	file := fmt.Sprintf("cookie_key: %s\nencryption_key: %s\noidc_key: %s\nprevious_cookie_key: %s\n",
		b64(fresh), b64(old.Encryption[:]), b64(old.OIDC[:]), b64(old.Cookie))
	if err := os.WriteFile(s.keys, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	p = s.serve(t)
	if after := madeUp(p); after != before {
		t.Errorf("made-up key IDs for an unknown name changed with the cookie key:\nbefore %s\nafter  %s", before, after)
	}
	p.stop(t)
	// Without the previous cookie key, after the rotation: still the same.
	file = fmt.Sprintf("cookie_key: %s\nencryption_key: %s\noidc_key: %s\n", b64(fresh), b64(old.Encryption[:]), b64(old.OIDC[:]))
	if err := os.WriteFile(s.keys, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	p = s.serve(t)
	if after := madeUp(p); after != before {
		t.Errorf("made-up key IDs changed once the previous cookie key was removed:\nbefore %s\nafter  %s", before, after)
	}
	p.stop(t)
}
