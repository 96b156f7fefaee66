package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

const (
	mdsYubiKey = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	mdsRevoked = "f7c558a0-f465-11e8-b568-0800200c9a66"
	mdsBypass  = "9c835346-796b-4c27-8898-d6032f515cc5"
)

func mdsEntries() []map[string]any {
	return []map[string]any{
		mdstest.Entry(mdsYubiKey, "YubiKey 5 Series", "FIDO_CERTIFIED_L1", "FIDO_CERTIFIED_L2"),
		mdstest.Entry(mdsRevoked, "Broken Key", "FIDO_CERTIFIED_L1", "REVOKED"),
		mdstest.Entry(mdsBypass, "Leaky Key", "FIDO_CERTIFIED_L1", "USER_VERIFICATION_BYPASS"),
		mdstest.U2FEntry("Old U2F Key"),
	}
}

// TestAdminMDSImport: keyhall admin mds import takes a good blob, with
// the CRLs given, audits it, and refuses — changing nothing — a blob whose
// signature, chain (another root, expired, a revoked intermediate), number
// (lower than the imported) or nextUpdate (past) is wrong.
func TestAdminMDSImport(t *testing.T) {
	env, url := adminEnv(t)
	dir := t.TempDir()
	p := mdstest.NewPKI(t, mdstest.Options{RSA: true})
	p.Trust(t)
	now := time.Now()
	next := now.AddDate(0, 1, 0)
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := p.Sign(t, mdstest.Payload(42, next, mdsEntries()...))
	blob := write("blob.jwt", good)
	crl := write("root.crl", p.CRL(t, now.Add(24*time.Hour)))

	out := mustRun(t, env, 0, "admin", "mds", "import", blob, "--crl", crl)
	for _, want := range []string{"MDS blob no. 42, next update " + next.Format(time.DateOnly), "3 models (of 4 entries), 2 of them compromised",
		"Not revoked (CRL given): CN=Test EV TLS CA 2025", "Revocation not checked (no CRL given): CN=mds.fidoalliance.org",
		"(its CRL: http://crl.test.example/ev-tls-ca-2025.crl)", "3 attestation roots of the models stored"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	st := openTestStore(t, url)
	ev := mustListAll(t, st)
	last := ev[len(ev)-1]
	if last.Action != "mds.import" || last.Details["no"] != "42" || last.Details["next_update"] != next.Format(time.DateOnly) ||
		last.Details["models"] != "3" || last.Details["entries"] != "4" || last.Details["compromised"] != "2" || last.Details["roots"] != "3" || !strings.HasPrefix(last.Actor, "cli:") {
		t.Errorf("audit event %+v", last)
	}

	other := mdstest.NewPKI(t, mdstest.Options{})
	expired := mdstest.NewPKI(t, mdstest.Options{SignerNotAfter: now.Add(-time.Hour)})
	parts := bytes.Split(bytes.Clone(good), []byte("."))
	sig, _ := base64.RawURLEncoding.DecodeString(string(parts[2]))
	sig[10] ^= 1
	parts[2] = []byte(base64.RawURLEncoding.EncodeToString(sig))
	for _, tc := range []struct {
		name string
		pki  *mdstest.PKI // trusted for the run
		blob []byte
		crl  []byte
		want string
	}{
		{"bad signature", p, bytes.Join(parts, []byte(".")), nil, "signature does not verify"},
		{"wrong root", p, other.Sign(t, mdstest.Payload(43, next)), nil, "does not lead to the FIDO root"},
		{"expired chain", expired, expired.Sign(t, mdstest.Payload(43, next)), nil, "certificate outside its validity"},
		{"revoked intermediate", p, p.Sign(t, mdstest.Payload(43, next)), p.CRL(t, now.Add(time.Hour), p.Intermediate), "certificate revoked"},
		{"rollback", p, p.Sign(t, mdstest.Payload(41, next)), nil, "older than the imported one"},
		{"past nextUpdate", p, p.Sign(t, mdstest.Payload(43, now.AddDate(0, 0, -2))), nil, "past its nextUpdate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.pki.Trust(t)
			args := []string{"admin", "mds", "import", write(tc.name+".jwt", tc.blob)}
			if tc.crl != nil {
				args = append(args, "--crl", write(tc.name+".crl", tc.crl))
			}
			if e := mustRun(t, env, 1, args...); !strings.Contains(e, tc.want) || !strings.Contains(e, "not imported") {
				t.Errorf("stderr %q, want %q", e, tc.want)
			}
			if m, err := st.KeyMetadata(context.Background()); err != nil || m.No != 42 || m.Models != 3 {
				t.Errorf("after a refused import: %+v, %v", m, err)
			}
		})
	}
	mustRun(t, env, 0, "admin", "mds", "import", blob) // the same blob again
}

// TestAdminKeysReport: keys report counts, per compromised model, the keys
// and their holders, and per group the people holding one (a person in
// two groups in each, one with two keys once, people in no group under
// ""); users credentials names the blob's models and their compromise.
func TestAdminKeysReport(t *testing.T) {
	env, url := adminEnv(t)
	out := mustRun(t, env, 0, "admin", "keys", "report")
	if !strings.Contains(out, "No MDS blob imported") {
		t.Errorf("before an import: %q", out)
	}
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	blob := filepath.Join(t.TempDir(), "blob.jwt")
	os.WriteFile(blob, p.Sign(t, mdstest.Payload(7, time.Now().AddDate(0, 1, 0), mdsEntries()...)), 0o600)
	mustRun(t, env, 0, "admin", "mds", "import", blob)

	for _, g := range []string{"rat", "verwaltung"} {
		mustRun(t, env, 0, "admin", "groups", "add", g)
	}
	for _, u := range []string{"anna", "bernd", "carla", "dora"} {
		mustRun(t, env, 0, "admin", "users", "add", u)
	}
	for _, m := range [][2]string{{"rat", "anna"}, {"verwaltung", "anna"}, {"rat", "bernd"}, {"verwaltung", "carla"}} {
		mustRun(t, env, 0, "admin", "groups", "add-member", m[0], m[1], "--reason", "ticket 1")
	}
	st := openTestStore(t, url)
	attested := false
	key := func(username, aaguid string) {
		u, err := st.GetUserByUsername(context.Background(), username)
		if err != nil {
			t.Fatal(err)
		}
		id, wid := uuid.MustParse(aaguid), make([]byte, 32)
		rand.Read(wid)
		c := authn.Credential{ID: authn.NewID(), UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "Schlüssel", CreatedAt: time.Now(),
			WebAuthnID: wid, PublicKey: []byte{1}, AAGUID: id[:], AttestationFmt: "packed", Attested: attested}
		if err := st.CreateCredential(context.Background(), c, authn.AuditEvent{Time: time.Now(), Actor: "test", Action: "credential.create"}); err != nil {
			t.Fatal(err)
		}
	}
	key("anna", mdsRevoked)
	key("anna", mdsBypass)
	key("bernd", mdsYubiKey)
	attested = true // carla's key was proven Broken Key's by its attestation
	key("carla", mdsRevoked)
	attested = false
	key("dora", mdsBypass)

	var rep keysReportJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "keys", "report", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	want := keysReportJSON{Imported: true, No: 7, NextUpdate: time.Now().AddDate(0, 1, 0).Format(time.DateOnly),
		Models: []heldModelJSON{{AAGUID: mdsRevoked, Name: "Broken Key", Compromise: "REVOKED", Keys: 2, People: 2, Unverified: 1},
			{AAGUID: mdsBypass, Name: "Leaky Key", Compromise: "USER_VERIFICATION_BYPASS", Keys: 2, People: 2, Unverified: 2}},
		Groups: []groupHolderJSON{{Group: "", People: 1}, {Group: "rat", People: 1}, {Group: "verwaltung", People: 2}}}
	if got, _ := json.Marshal(rep); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("report\n got %s\nwant %s", got, must(json.Marshal(want)))
	}
	var creds []credentialJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, 0, "admin", "users", "credentials", "anna", "--json")), &creds); err != nil {
		t.Fatal(err)
	}
	if len(creds) != 2 || creds[0].Model != "Broken Key" || creds[0].Compromise != "REVOKED" || creds[1].Compromise != "USER_VERIFICATION_BYPASS" {
		t.Errorf("anna's keys: %+v", creds)
	}
	out = mustRun(t, env, 0, "admin", "keys", "report")
	if !strings.Contains(out, "Broken Key") || !strings.Contains(out, "verwaltung  2") || !strings.Contains(out, "NOT VERIFIED: keys whose model only the key reported") {
		t.Errorf("table:\n%s", out)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
