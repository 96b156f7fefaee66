package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn/sqlstore"
)

func randomKeys() Keys {
	k := Keys{Cookie: make([]byte, 64)}
	rand.Read(k.Cookie)
	rand.Read(k.Encryption[:])
	rand.Read(k.OIDC[:])
	return k
}

// TestKeysRotationFingerprint: a process with new keys and the database's
// keys as keys.previous_* is let in, and the database then remembers the
// new keys: a process with only the old keys is refused as before, and so
// is one whose previous keys are not the database's.
func TestKeysRotationFingerprint(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "k.db"), sqlstore.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := randomKeys()
	if err := checkKeys(ctx, st, old); err != nil {
		t.Fatal(err)
	}
	rotated := randomKeys() // all three replaced
	rotated.PreviousCookie, rotated.PreviousEncryption, rotated.PreviousOIDC = old.Cookie, old.Encryption, old.OIDC
	stranger := randomKeys()
	stranger.PreviousCookie, stranger.PreviousEncryption = randomKeys().Cookie, randomKeys().Encryption
	if err := checkKeys(ctx, st, stranger); err == nil || !strings.Contains(err.Error(), "other keys") {
		t.Errorf("keys whose previous ones are not the database's: %v, want refused", err)
	}
	if err := checkKeys(ctx, st, rotated); err != nil {
		t.Fatalf("new keys with the old ones as previous: %v", err)
	}
	if err := checkKeys(ctx, st, old); err == nil || !strings.Contains(err.Error(), "other keys") {
		t.Errorf("only the old keys after the rotation: %v, want refused", err)
	}
	if err := checkKeys(ctx, st, rotated); err != nil {
		t.Errorf("the rotated process again: %v", err)
	}
	rotated.PreviousCookie, rotated.PreviousEncryption, rotated.PreviousOIDC = nil, [32]byte{}, [32]byte{}
	if err := checkKeys(ctx, st, rotated); err != nil {
		t.Errorf("the new keys once the previous ones are dropped: %v", err)
	}
}

// TestKeysPreviousFromKeyFile: the previous keys may be lines of the key
// file, or settings; they are optional.
func TestKeysPreviousFromKeyFile(t *testing.T) {
	k, prev := randomKeys(), randomKeys()
	b64 := base64.StdEncoding.EncodeToString
	file := filepath.Join(t.TempDir(), "keyhall.keys")
	content := fmt.Sprintf("cookie_key: %s\nencryption_key: %s\noidc_key: %s\nprevious_encryption_key: %s\n",
		b64(k.Cookie), b64(k.Encryption[:]), b64(k.OIDC[:]), b64(prev.Encryption[:]))
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var c Config
	c.Keys.File = file
	got, err := loadKeys(c, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if got.Encryption != k.Encryption || got.PreviousEncryption != prev.Encryption || got.PreviousCookie != nil {
		t.Errorf("keys from the file: previous encryption key %v, previous cookie key %v", got.PreviousEncryption == prev.Encryption, got.PreviousCookie)
	}
	c.Keys.PreviousCookieKey = b64(prev.Cookie)
	if got, err = loadKeys(c, discardLogger()); err != nil || string(got.PreviousCookie) != string(prev.Cookie) {
		t.Errorf("keys.previous_cookie_key: %v", err)
	}
}
