package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/web"
)

// keysEnv gives k to keyhall as KEYHALL_KEYS_… variables.
func keysEnv(env []string, k Keys) []string {
	b64 := base64.StdEncoding.EncodeToString
	env = append(env[:len(env):len(env)], "KEYHALL_KEYS_COOKIE_KEY="+b64(k.Cookie),
		"KEYHALL_KEYS_ENCRYPTION_KEY="+b64(k.Encryption[:]), "KEYHALL_KEYS_OIDC_KEY="+b64(k.OIDC[:]))
	if k.PreviousEncryption != ([32]byte{}) {
		env = append(env, "KEYHALL_KEYS_PREVIOUS_ENCRYPTION_KEY="+b64(k.PreviousEncryption[:]))
	}
	return env
}

// TestAdminKeysRotateEncryption: "admin keys rotate-encryption" re-seals
// an app's secret and the signing key under the new encryption key, so the
// old one can be dropped: a process with only the new keys signs in and
// signs, one with only the old keys is refused. Without the previous key,
// or with keys that are not the installation's, it changes nothing.
func TestAdminKeysRotateEncryption(t *testing.T) {
	onBothBackends(t, testAdminKeysRotateEncryption)
}

func testAdminKeysRotateEncryption(t *testing.T, env []string, url string) {
	t.Chdir(t.TempDir())
	ctx := context.Background()
	st := openTestStore(t, url).(*sqlstore.Store)
	old, anna, app, secret := sealedInstallation(t, st)
	appOpensWith := func(k [32]byte) bool {
		cs, err := st.ListCredentials(ctx, anna.ID)
		if err != nil || len(cs) != 1 {
			t.Fatalf("her credentials: %+v, %v", cs, err)
		}
		got, err := authn.Open(k, cs[0].SecretSealed, []byte(app.ID))
		return err == nil && string(got) == string(secret)
	}

	rotated := randomKeys()
	rotated.Cookie, rotated.OIDC, rotated.PreviousEncryption = old.Cookie, old.OIDC, old.Encryption
	if code, _, e := runKeyhall(t, keysEnv(env, Keys{Cookie: rotated.Cookie, Encryption: rotated.Encryption, OIDC: rotated.OIDC}),
		"admin", "keys", "rotate-encryption"); code != exitUsage || !strings.Contains(e, "previous_encryption_key") {
		t.Errorf("without the previous key: exit %d, %q", code, e)
	}
	stranger := randomKeys()
	stranger.PreviousEncryption = randomKeys().Encryption
	if e := mustRun(t, keysEnv(env, stranger), 1, "admin", "keys", "rotate-encryption"); !strings.Contains(e, "opens neither") &&
		!strings.Contains(e, "other keys") {
		t.Errorf("with keys not the installation's: %q", e)
	}
	if !appOpensWith(old.Encryption) {
		t.Fatal("a refused rotation changed the app's secret")
	}

	out := mustRun(t, keysEnv(env, rotated), 0, "admin", "keys", "rotate-encryption", "--reason", "yearly")
	if !strings.Contains(out, "Re-sealed 2 secrets") {
		t.Errorf("rotate-encryption printed %q, want 2 secrets (the app, the signing key)", out)
	}
	if !appOpensWith(rotated.Encryption) || appOpensWith(old.Encryption) {
		t.Error("after the rotation the app's secret is not sealed under the new key alone")
	}
	stored, err := st.OIDCSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := web.OpenInstallationKey(stored, rotated.Encryption); err != nil {
		t.Errorf("the signing key after the rotation: %v", err)
	}
	if err := checkKeys(ctx, st, old); err == nil {
		t.Error("a process with only the old keys is let in after the rotation")
	}
	if err := checkKeys(ctx, st, Keys{Cookie: rotated.Cookie, Encryption: rotated.Encryption, OIDC: rotated.OIDC}); err != nil {
		t.Errorf("a process with only the new keys: %v", err)
	}
	evs, err := st.ListAudit(ctx, authn.AuditFilter{Subject: "keys"})
	if err != nil || len(evs) != 1 || evs[0].Action != "keys.rotate_encryption" || evs[0].Reason != "yearly" {
		t.Errorf("audit: %+v, %v", evs, err)
	}
}

// sealedInstallation sets st up under new random keys (old, as the tests
// call them): a person, anna, with an app whose secret is sealed under
// old's encryption key, the signing key, and old's fingerprint.
func sealedInstallation(t *testing.T, st *sqlstore.Store) (old Keys, anna authn.User, app authn.Credential, secret []byte) {
	t.Helper()
	ctx := context.Background()
	old = randomKeys()
	now := time.Now().UTC()
	ev := authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}
	anna = authn.User{ID: authn.NewID(), Username: "anna", DisplayName: "Anna", Status: authn.StatusActive,
		Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, anna, ev); err != nil {
		t.Fatal(err)
	}
	secret = make([]byte, 20)
	rand.Read(secret)
	app = authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindTOTP, Nickname: "App", CreatedAt: now}
	var err error
	if app.SecretSealed, err = authn.Seal(old.Encryption, secret, []byte(app.ID)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCredential(ctx, app, ev); err != nil {
		t.Fatal(err)
	}
	if _, _, err := web.InstallationKey(ctx, st, old.Encryption, now); err != nil {
		t.Fatal(err)
	}
	if err := checkKeys(ctx, st, old); err != nil {
		t.Fatal(err)
	}
	return old, anna, app, secret
}
