package web

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/mds"
	"github.com/keyhall/keyhall/enroll/mds/mdstest"
)

// TestEnrollRefusesCompromisedModel: a person of a group that refuses
// compromised models adds a key on /account: a key of a model the imported
// FIDO metadata reports REVOKED is refused (403) with a page saying why
// (German here; enroll tests the English), and not stored; a key of
// another model is stored.
func TestEnrollRefusesCompromisedModel(t *testing.T) {
	r := newRefusingRig(t)
	f, ctx, anna, maker := r.f, context.Background(), r.anna, r.maker
	revoked := r.revoked
	register := func(model uuid.UUID) (*http.Response, string) {
		t.Helper()
		return r.addKey(t, func(options []byte) []byte { return packedRegistration(t, options, f.base, model, maker) })
	}
	res, body := register(revoked)
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("revoked model: status %d, want 403", res.StatusCode)
	}
	for _, want := range []string{"Broken Key", "Die FIDO Alliance hat dieses Modell zurückgezogen", "IT-Service hilft Ihnen"} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal page (%d) lacks %q:\n%s", res.StatusCode, want, body)
		}
	}
	if creds, _ := f.store.ListCredentials(ctx, anna.ID); len(creds) != 1 {
		t.Fatalf("%d keys stored, want only the old one", len(creds))
	}
	if res, body = register(uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a")); res.StatusCode != http.StatusOK {
		t.Fatalf("another model: %d %s", res.StatusCode, body)
	}
	if creds, _ := f.store.ListCredentials(ctx, anna.ID); len(creds) != 2 {
		t.Fatalf("%d keys stored, want 2", len(creds))
	}
}

// TestAdminPersonFlagsCompromisedModel: on a person's page in /admin, a
// key of a model the imported FIDO metadata reports compromised is
// flagged with the status, and models are named and rated as the blob
// says, in place of the shipped list; a model only the key reported (no
// attestation by a trusted root) is marked so.
func TestAdminPersonFlagsCompromisedModel(t *testing.T) {
	c := newConsole(t)
	f := c.f
	ctx := context.Background()
	revoked, yubi := uuid.MustParse("f7c558a0-f465-11e8-b568-0800200c9a66"), enroll.YubiKeyModels()[0].AAGUID
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	blob := p.Sign(t, mdstest.Payload(9, time.Now().AddDate(0, 1, 0),
		mdstest.Entry(revoked.String(), "Broken Key", "FIDO_CERTIFIED_L1", "USER_KEY_REMOTE_COMPROMISE"),
		mdstest.Entry(yubi.String(), "YubiKey 5 Series (FIDO MDS)", "FIDO_CERTIFIED_L2")))
	if _, err := mds.Import(ctx, f.store, blob, mds.Options{Now: time.Now()}, "test"); err != nil {
		t.Fatal(err)
	}
	for i, model := range []uuid.UUID{revoked, yubi} {
		k := newTestKey(t)
		cred := authn.Credential{ID: authn.NewID(), UserID: c.renate.ID, Kind: authn.KindWebAuthn, Nickname: []string{"Alt", "Neu"}[i],
			CreatedAt: time.Now(), WebAuthnID: k.id, PublicKey: k.cose, AAGUID: model[:], AttestationFmt: "packed", Attested: i == 1}
		if err := f.store.CreateCredential(ctx, cred, f.audit("credential.create")); err != nil {
			t.Fatal(err)
		}
	}
	unverified := map[string]string{"de": "(laut Schlüssel, nicht geprüft)", "en": "(as the key reports it, not verified)"}
	for l, flag := range map[string]string{"de": "Modell laut FIDO Alliance unsicher, bitte ersetzen: USER_KEY_REMOTE_COMPROMISE",
		"en": "model unsafe according to the FIDO Alliance, please replace: USER_KEY_REMOTE_COMPROMISE"} {
		res, body := c.as(c.helga, authn.LevelPhrh, 0).get("/admin/people/" + c.renate.ID + "?lang=" + l)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("person page: %d", res.StatusCode)
		}
		for _, want := range []string{"Broken Key (FIDO_CERTIFIED_L1) <em class=\"unverified\">" + unverified[l] + "</em> <strong class=\"warning\">" + flag,
			"YubiKey 5 Series (FIDO MDS) (FIDO_CERTIFIED_L2)</td>"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the person page lacks %q", l, want)
			}
		}
		if strings.Count(body, flag) != 1 {
			t.Errorf("%s: %d flags, want 1", l, strings.Count(body, flag))
		}
	}
}

// TestAccountNamesModelFromMDS: /account names a key she gave no name by
// the model name of the imported MDS blob, where it has one, and marks a
// model only the key reported (no attestation by a trusted root).
func TestAccountNamesModelFromMDS(t *testing.T) {
	f := newFixture(t)
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy()}})
	anna := f.addUser("anna")
	yubi := enroll.YubiKeyModels()[0].AAGUID
	k := newTestKey(t)
	if err := f.store.CreateCredential(context.Background(), authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindWebAuthn,
		Nickname: "Sicherheitsschlüssel", CreatedAt: time.Now(), WebAuthnID: k.id, PublicKey: k.cose, AAGUID: yubi[:]}, f.audit("credential.create")); err != nil {
		t.Fatal(err)
	}
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	blob := p.Sign(t, mdstest.Payload(3, time.Now().AddDate(0, 1, 0), mdstest.Entry(yubi.String(), "YubiKey 5 Series (FIDO MDS)", "FIDO_CERTIFIED_L2")))
	if _, err := mds.Import(context.Background(), f.store, blob, mds.Options{Now: time.Now()}, "test"); err != nil {
		t.Fatal(err)
	}
	k2 := newTestKey(t)
	if err := f.store.CreateCredential(context.Background(), authn.Credential{ID: authn.NewID(), UserID: anna.ID, Kind: authn.KindWebAuthn,
		Nickname: "Büro", CreatedAt: time.Now(), WebAuthnID: k2.id, PublicKey: k2.cose, AAGUID: yubi[:], Attested: true}, f.audit("credential.create")); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/account", "/account/factors"} {
		w := serve(f.srv, "GET", path, nil, f.sessionCookie(anna, time.Now(), false))
		for _, want := range []string{"Sicherheitsschlüssel: <strong>YubiKey 5 Series (FIDO MDS)</strong> <em class=\"unverified\">(Modell laut Schlüssel, nicht geprüft)</em>",
			"Sicherheitsschlüssel: <strong>Büro</strong> · YubiKey 5 Series (FIDO MDS)</span>"} {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("%s (%d) does not show %q", path, w.Code, want)
			}
		}
	}
}

// refusingRig is a person, anna, of a group ("rat") that refuses
// compromised models, with a key already, signed in; FIDO metadata saying
// the model revoked is REVOKED is imported, listing maker's root as the
// attestation root of that model and of a good one (goodModel), which
// proves them; group "pki" trusts maker's root too, but its roots prove
// nothing for "rat".
type refusingRig struct {
	f       *fixture
	c       *client
	anna    authn.User
	maker   attestCA
	revoked uuid.UUID
}

// goodModel is a model FIDO's metadata in refusingRig does not report.
var goodModel = uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a")

func newRefusingRig(t *testing.T) *refusingRig {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	r := &refusingRig{f: f, maker: newAttestCA(t), revoked: uuid.MustParse("f7c558a0-f465-11e8-b568-0800200c9a66")}
	f.withEnroll(enroll.Config{Policy: enroll.Policy{Default: enroll.DefaultKeyPolicy(),
		Groups: map[string]enroll.KeyPolicy{"rat": {RefuseCompromised: true},
			"pki": {TrustedRoots: []*x509.Certificate{r.maker.cert}}}}})
	p := mdstest.NewPKI(t, mdstest.Options{})
	p.Trust(t)
	blob := p.Sign(t, mdstest.Payload(9, time.Now().AddDate(0, 1, 0),
		mdstest.WithRoots(mdstest.Entry(r.revoked.String(), "Broken Key", "FIDO_CERTIFIED_L1", "REVOKED"), r.maker.cert),
		mdstest.WithRoots(mdstest.Entry(goodModel.String(), "YubiKey 5 Series", "FIDO_CERTIFIED_L1"), r.maker.cert)))
	if _, err := mds.Import(ctx, f.store, blob, mds.Options{Now: time.Now()}, "test"); err != nil {
		t.Fatal(err)
	}
	r.anna = f.addUser("anna")
	rat := authn.Group{ID: authn.NewID(), Name: "rat", Source: authn.SourceLocal, CreatedAt: time.Now()}
	if err := f.store.CreateGroup(ctx, rat, f.audit("group.create")); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AddMember(ctx, rat.ID, r.anna.ID, f.audit("group.member.add")); err != nil {
		t.Fatal(err)
	}
	old := newTestKey(t)
	f.addKey(r.anna, &old, 0)
	r.c = f.client()
	r.c.cookies[SessionCookie] = f.sessionCookie(r.anna, time.Now(), false).Value
	return r
}

// addKey adds a key on /account, answering the options with answer.
func (r *refusingRig) addKey(t *testing.T, answer func(options []byte) []byte) (*http.Response, string) {
	t.Helper()
	res, body := r.c.form("/account/factors/add", url.Values{"kind": {"key"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a key: %d %s", res.StatusCode, body)
	}
	res = r.c.do("POST", "/enroll/key/begin", "application/json", strings.NewReader("{}"))
	options := readBody(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("begin: %d %s", res.StatusCode, options)
	}
	if !strings.Contains(options, `"attestation":"direct"`) {
		t.Errorf("the options do not ask for direct attestation: %s", options)
	}
	return r.c.form("/enroll/key", url.Values{"credential": {string(answer([]byte(options)))}})
}
