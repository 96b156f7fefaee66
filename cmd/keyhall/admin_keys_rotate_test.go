package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// TestAdminKeysRotate: "admin keys rotate" makes a new active signing key,
// retires the old one, is audited as keys.rotate; a checkpoint signed
// with the old key still verifies after it, and the next checkpoint is
// signed with the new key. Keys other than the installation's are refused
// and change nothing.
func TestAdminKeysRotate(t *testing.T) {
	onBothBackends(t, testAdminKeysRotate)
}

func testAdminKeysRotate(t *testing.T, env []string, url string) {
	t.Chdir(t.TempDir()) // the key file the commands create
	ctx := context.Background()
	mustRun(t, env, 0, "admin", "users", "add", "anna")
	keys := commandKeys(t, env)
	st := openTestStore(t, url).(*sqlstore.Store)
	var out bytes.Buffer
	a := &auditLog{st: st, keys: keys, logger: slog.New(slog.NewJSONHandler(&out, nil)), holder: "test", now: time.Now}
	before, err := a.checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	other := make([]byte, 32)
	rand.Read(other)
	wrong := append(env[:len(env):len(env)], "KEYHALL_KEYS_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(other))
	if e := mustRun(t, wrong, 1, "admin", "keys", "rotate"); !strings.Contains(e, "is keys.encryption_key the one") {
		t.Errorf("rotate with another encryption key: %q", e)
	}
	if id, err := st.ActiveOIDCSigningKeyID(ctx); err != nil || id != before.KeyID {
		t.Fatalf("after a refused rotation the active key is %q, %v; want %s", id, err, before.KeyID)
	}

	var r rotationJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "keys", "rotate", "--reason", "yearly", "--json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.Retired != before.KeyID || r.Active == "" || r.Active == r.Retired || !r.PublishedUntil.After(time.Now().Add(2*time.Minute)) /* no clients: the logout tokens' two minutes, and a margin */ {
		t.Errorf("rotation: %+v, want %s retired and published for the tokens' lifetime", r, before.KeyID)
	}
	var list []signingKeyJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "keys", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != r.Active || !list[0].Retired.IsZero() || list[1].ID != r.Retired || list[1].Retired.IsZero() {
		t.Errorf("keys list after the rotation: %+v", list)
	}
	evs, err := st.ListAudit(ctx, authn.AuditFilter{Subject: "key:" + r.Active})
	if err != nil || len(evs) != 1 || evs[0].Action != "keys.rotate" || evs[0].Reason != "yearly" || !strings.HasPrefix(evs[0].Actor, "cli:") {
		t.Errorf("audit of the rotation: %+v, %v", evs, err)
	}

	if got := mustRun(t, env, 0, "admin", "audit", "verify", "--checkpoint", before.String()); !strings.Contains(got, "signed by this installation") {
		t.Errorf("a checkpoint of the retired key after the rotation: %q", got)
	}
	after, err := a.checkpoint(ctx)
	if err != nil || after.KeyID != r.Active {
		t.Fatalf("checkpoint after the rotation signed with %q (%v), want the new key %s", after.KeyID, err, r.Active)
	}
	if got := mustRun(t, env, 0, "admin", "audit", "verify", "--checkpoint", after.String()); !strings.Contains(got, "signed by this installation") {
		t.Errorf("a checkpoint of the new key: %q", got)
	}
}
