package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeKeyRotationKeepsSessions: the shared keys of an installation are
// all replaced as docs/keys.md says — serve restarted with the new keys and
// the old ones as previous_*, rotate-encryption run, the previous keys
// dropped — and a person signed in before is still signed in at every
// step; a process with only the old keys is refused at the end.
func TestServeKeyRotationKeepsSessions(t *testing.T) {
	dir := t.TempDir()
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.waitFor(t, `empty database: created the first administrator`, 30*time.Second)
	p.listening(t)
	st := openSQLite(t, filepath.Join(dir, "keyhall.db"))
	defer st.Close()
	cookie, _ := newSession(t, st, "admin")
	signedIn := func(p *proc, when string) {
		t.Helper()
		eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
		if code, body := get(t, p.url("/api/session"), cookie); code != 200 || !strings.Contains(body, `"preferred_username":"admin"`) {
			t.Fatalf("the session %s: %d %s", when, code, body)
		}
	}
	signedIn(p, "before the rotation")
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop: exit status %d", code)
	}

	keyFile := filepath.Join(dir, "keyhall.keys")
	old, err := readKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fresh := map[string][]byte{"cookie_key": make([]byte, 64), "encryption_key": make([]byte, 32), "oidc_key": make([]byte, 32)}
	for _, k := range fresh {
		rand.Read(k)
	}
	write := func(keys map[string][]byte) {
		t.Helper()
		var b strings.Builder
		for name, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", name, base64.StdEncoding.EncodeToString(k))
		}
		if err := os.WriteFile(keyFile, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	during := map[string][]byte{}
	for name := range fresh {
		during[name], during["previous_"+name] = fresh[name], old[name]
	}
	write(during)
	p = startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	signedIn(p, "after the restart with the new keys and the previous ones")
	env := []string{"KEYHALL_STORAGE=sqlite://" + filepath.Join(dir, "keyhall.db"), "KEYHALL_KEYS_FILE=" + keyFile}
	if out := mustRun(t, env, 0, "admin", "keys", "rotate-encryption", "--reason", "test"); !strings.Contains(out, "Re-sealed 1 secrets") {
		t.Errorf("rotate-encryption: %q, want the signing key re-sealed", out)
	}
	signedIn(p, "after rotate-encryption")
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop: exit status %d", code)
	}

	write(fresh) // the previous keys dropped
	p = startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	signedIn(p, "with only the new keys")
	if code := p.stop(t); code != 0 {
		t.Fatalf("stop: exit status %d", code)
	}

	write(old)
	p = startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("keyhall kept running with only the old keys after the rotation")
	}
	if p.code != 1 || !strings.Contains(p.out.String(), "set up with other keys") {
		t.Errorf("only the old keys: exit status %d, output %q; want 1 and other keys", p.code, p.out.String())
	}
}
