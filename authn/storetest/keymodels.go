package storetest

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// testKeyModels: an import replaces the models and the blob's facts with
// its audit event; a lower number is refused and changes nothing, the same
// number is taken again; KeyModels finds models by AAGUID.
func testKeyModels(t *testing.T, s authn.Store) {
	ctx := t.Context()
	_, err := s.KeyMetadata(ctx)
	wantErr(t, "KeyMetadata(before any import)", err, authn.ErrNotFound)
	revoked := authn.KeyModel{AAGUID: [16]byte{1}, Name: "Broken Key", Status: "REVOKED", StatusDate: t0.Add(-time.Hour),
		Compromise: "REVOKED", Certification: "FIDO_CERTIFIED_L1"}
	good := authn.KeyModel{AAGUID: [16]byte{2}, Name: "Good Key", Status: "FIDO_CERTIFIED_L2", Certification: "FIDO_CERTIFIED_L2"}
	before := auditCount(t, s)
	must(t, "ImportKeyModels", s.ImportKeyModels(ctx, authn.KeyMetadata{No: 7, NextUpdate: t0.AddDate(0, 1, 0), ImportedAt: t0},
		[]authn.KeyModel{revoked, good}, ev("mds.import", "")))
	if auditCount(t, s) != before+1 {
		t.Errorf("ImportKeyModels wrote %d audit events, want 1", auditCount(t, s)-before)
	}
	m, err := s.KeyMetadata(ctx)
	must(t, "KeyMetadata", err)
	if m.No != 7 || !m.NextUpdate.Equal(micro(t0.AddDate(0, 1, 0))) || !m.ImportedAt.Equal(micro(t0)) || m.Models != 2 {
		t.Errorf("KeyMetadata = %+v", m)
	}
	got, err := s.KeyModels(ctx, [][16]byte{{1}, {2}, {3}})
	must(t, "KeyModels", err)
	revoked.StatusDate = micro(revoked.StatusDate)
	if len(got) != 2 || !reflect.DeepEqual(got[[16]byte{1}], revoked) || !reflect.DeepEqual(got[[16]byte{2}], good) {
		t.Errorf("KeyModels = %+v", got)
	}

	err = s.ImportKeyModels(ctx, authn.KeyMetadata{No: 6, NextUpdate: t0.AddDate(0, 2, 0), ImportedAt: t0}, nil, ev("mds.import", ""))
	wantErr(t, "ImportKeyModels(lower number)", err, authn.ErrNotForward)
	if m, _ := s.KeyMetadata(ctx); m.No != 7 {
		t.Errorf("after a refused rollback: number %d, want 7", m.No)
	}
	if got, _ := s.KeyModels(ctx, [][16]byte{{1}}); len(got) != 1 {
		t.Error("a refused rollback removed the models")
	}
	must(t, "ImportKeyModels(same number, fewer models)", s.ImportKeyModels(ctx,
		authn.KeyMetadata{No: 7, NextUpdate: t0.AddDate(0, 1, 0), ImportedAt: t0.Add(time.Hour)}, []authn.KeyModel{good}, ev("mds.import", "")))
	if got, _ := s.KeyModels(ctx, [][16]byte{{1}, {2}}); len(got) != 1 {
		t.Errorf("after an import without it, model 1 is still there: %+v", got)
	}
}

// testKeyModelRoots: each model's attestation roots are stored as given
// (DER one after the other, binary: every byte value), read back by
// KeyModels, and replaced by the next import: a root the new blob no
// longer lists for a model is gone, also when the model stays; a model
// without roots has none (nil). The report does not need them.
func testKeyModelRoots(t *testing.T, s authn.Store) {
	ctx := t.Context()
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	a := authn.KeyModel{AAGUID: [16]byte{0xa}, Name: "Key A", Status: "FIDO_CERTIFIED_L1", Roots: append([]byte{0x30, 0x82}, binary...)}
	b := authn.KeyModel{AAGUID: [16]byte{0xb}, Name: "Key B", Status: "REVOKED", Compromise: "REVOKED", Roots: []byte{0x30, 0, 0xff}}
	none := authn.KeyModel{AAGUID: [16]byte{0xc}, Name: "Key C", Status: "FIDO_CERTIFIED_L1"}
	must(t, "ImportKeyModels", s.ImportKeyModels(ctx, authn.KeyMetadata{No: 1, NextUpdate: t0, ImportedAt: t0},
		[]authn.KeyModel{a, b, none}, ev("mds.import", "")))
	got, err := s.KeyModels(ctx, [][16]byte{a.AAGUID, b.AAGUID, none.AAGUID})
	must(t, "KeyModels", err)
	for _, want := range []authn.KeyModel{a, b, none} {
		if g := got[want.AAGUID]; !bytes.Equal(g.Roots, want.Roots) || (want.Roots == nil) != (g.Roots == nil) {
			t.Errorf("%s: roots %x, want %x", want.Name, g.Roots, want.Roots)
		}
	}

	a.Roots = []byte{0x30, 1, 2} // FIDO lists another root for A now, and none for B
	b.Roots = nil
	must(t, "ImportKeyModels(again)", s.ImportKeyModels(ctx, authn.KeyMetadata{No: 2, NextUpdate: t0, ImportedAt: t0},
		[]authn.KeyModel{a, b}, ev("mds.import", "")))
	got, err = s.KeyModels(ctx, [][16]byte{a.AAGUID, b.AAGUID, none.AAGUID})
	must(t, "KeyModels", err)
	if !bytes.Equal(got[a.AAGUID].Roots, a.Roots) || got[b.AAGUID].Roots != nil || len(got) != 2 {
		t.Errorf("after the next import: %+v", got)
	}
	// A rollback is refused and leaves the roots as they are.
	err = s.ImportKeyModels(ctx, authn.KeyMetadata{No: 1, NextUpdate: t0, ImportedAt: t0},
		[]authn.KeyModel{{AAGUID: a.AAGUID, Name: "Key A", Roots: []byte{0x30, 9}}}, ev("mds.import", ""))
	wantErr(t, "ImportKeyModels(lower number)", err, authn.ErrNotForward)
	if got, _ := s.KeyModels(ctx, [][16]byte{a.AAGUID}); !bytes.Equal(got[a.AAGUID].Roots, a.Roots) {
		t.Errorf("a refused rollback changed the roots: %x", got[a.AAGUID].Roots)
	}
	held, err := s.CompromisedKeys(ctx)
	must(t, "CompromisedKeys", err)
	for _, h := range held.Models {
		if h.Roots != nil {
			t.Errorf("CompromisedKeys reads the roots of %s", h.Name)
		}
	}
}

// testCompromisedKeys: the keys of compromised models are counted by model
// and by group, each person once per group; other models, apps and people
// in no group (counted under "") are told apart, and the keys whose model
// no attestation proved (Attested false) are counted.
func testCompromisedKeys(t *testing.T, s authn.Store) {
	ctx := t.Context()
	bad := authn.KeyModel{AAGUID: [16]byte{9}, Name: "Bad Key", Status: "USER_VERIFICATION_BYPASS", Compromise: "USER_VERIFICATION_BYPASS"}
	fine := authn.KeyModel{AAGUID: [16]byte{8}, Name: "Fine Key", Status: "FIDO_CERTIFIED_L1"}
	must(t, "ImportKeyModels", s.ImportKeyModels(ctx, authn.KeyMetadata{No: 1, NextUpdate: t0, ImportedAt: t0},
		[]authn.KeyModel{bad, fine}, ev("mds.import", "")))
	rat := authn.Group{ID: authn.NewID(), Name: "rat", DisplayName: "Rat", Source: authn.SourceLocal, CreatedAt: t0}
	must(t, "CreateGroup", s.CreateGroup(ctx, rat, ev("group.create", "")))
	attested := false
	key := func(u authn.User, model [16]byte) {
		c := newKey(u, t0)
		c.AAGUID = bytes.Clone(model[:])
		c.Attested = attested
		mkCredential(t, s, c)
	}
	anna, bernd, carla := mkUser(t, s, "anna"), mkUser(t, s, "bernd"), mkUser(t, s, "carla")
	for _, u := range []authn.User{anna, bernd, carla} {
		must(t, "AddMember", s.AddMember(ctx, rat.ID, u.ID, ev("group.member.add", "")))
	}
	key(anna, bad.AAGUID)
	attested = true
	key(anna, bad.AAGUID) // two keys, one person; this one's model proven
	attested = false
	key(bernd, fine.AAGUID)
	mkCredential(t, s, newApp(carla, t0))
	dora := mkUser(t, s, "dora") // in no group
	key(dora, bad.AAGUID)

	got, err := s.CompromisedKeys(ctx)
	must(t, "CompromisedKeys", err)
	want := authn.CompromisedKeys{
		Models: []authn.HeldModel{{KeyModel: bad, Keys: 3, People: 2, Unverified: 2}},
		Groups: []authn.GroupHolders{{Group: "", People: 1}, {Group: "rat", People: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CompromisedKeys = %+v, want %+v", got, want)
	}
}
