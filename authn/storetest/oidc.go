package storetest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// RunOIDC runs the conformance suite of authn.OIDCStore. newStore must
// return a fresh, empty store that implements it, closed at t's cleanup.
func RunOIDC(t *testing.T, newStore func(t *testing.T) authn.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s authn.Store, o authn.OIDCStore)
	}{
		{"SigningKeyConcurrent", testOIDCSigningKey},
		{"SigningKeyRotation", testOIDCKeyRotation},
		{"AuthRequest", testOIDCAuthRequest},
		{"CompleteOnce", testOIDCCompleteOnce},
		{"RedeemCodeConcurrent", testOIDCRedeemConcurrent},
		{"CodeReuseRevokesTokens", testOIDCCodeReuse},
		{"CodeExpired", testOIDCCodeExpired},
		{"RotateRefreshConcurrent", testOIDCRotateConcurrent},
		{"RefreshReuseRevokesFamily", testOIDCRefreshReuse},
		{"RevokeToken", testOIDCRevokeToken},
		{"RevokeSessionAndUser", testOIDCRevokeSessionAndUser},
		{"DeleteBefore", testOIDCDeleteBefore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			o, ok := s.(authn.OIDCStore)
			if !ok {
				t.Fatalf("%T does not implement authn.OIDCStore", s)
			}
			tc.run(t, s, o)
		})
	}
}

func hashOf(s string) authn.TokenHash { return sha256.Sum256([]byte(s)) }

// newAuthRequest returns a fresh, unfinished request made at t0.
func newAuthRequest() authn.OIDCAuthRequest {
	return authn.OIDCAuthRequest{
		ID: authn.NewID(), ClientID: "wiki", RedirectURI: "https://wiki.example/cb",
		Scopes: []string{"openid", "email"}, State: "st", Nonce: "n", CodeChallenge: "abc",
		CodeChallengeMethod: "S256", Prompt: []string{"login"}, MaxAge: 5 * time.Minute,
		ACRValues: []string{"phr"}, LoginHint: "anna", HintSubject: "u-anna", Binding: sha256.Sum256([]byte("b")),
		CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute),
	}
}

// signedIn is a request completed by user with a code that is valid for a
// minute after t0.
func signedIn(t *testing.T, o authn.OIDCStore, user authn.User, code string) authn.OIDCAuthRequest {
	t.Helper()
	r := newAuthRequest()
	must(t, "CreateOIDCAuthRequest", o.CreateOIDCAuthRequest(t.Context(), r))
	in := authn.OIDCSignIn{UserID: user.ID, AMR: []string{"hwk", "pwd", "mfa"}, ACR: "phrh", AuthTime: t0,
		Session: authn.SessionHash(hashOf("session of " + user.ID))}
	must(t, "CompleteOIDCAuthRequest", o.CompleteOIDCAuthRequest(t.Context(), r.ID, in, t0))
	must(t, "SetOIDCCode", o.SetOIDCCode(t.Context(), r.ID, hashOf(code), t0.Add(time.Minute)))
	got, err := o.GetOIDCAuthRequest(t.Context(), r.ID)
	must(t, "GetOIDCAuthRequest", err)
	return got
}

// newTokens returns an access and a refresh token of grant r.
func newTokens(r authn.OIDCAuthRequest, refresh string) []authn.OIDCToken {
	base := authn.OIDCToken{GrantID: r.ID, ClientID: r.ClientID, UserID: r.UserID, Session: r.Session,
		Scopes: r.Scopes, AMR: r.AMR, ACR: r.ACR, AuthTime: r.AuthTime, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	at, rt := base, base
	at.ID, at.Kind = authn.NewID(), authn.OIDCAccessToken
	rt.ID, rt.Kind, rt.Hash = authn.NewID(), authn.OIDCRefreshToken, hashOf(refresh)
	return []authn.OIDCToken{at, rt}
}

func revoked(t *testing.T, o authn.OIDCStore, id string) bool {
	t.Helper()
	tok, err := o.GetOIDCToken(t.Context(), id)
	must(t, "GetOIDCToken", err)
	return !tok.RevokedAt.IsZero()
}

func testOIDCSigningKey(t *testing.T, _ authn.Store, o authn.OIDCStore) {
	const n = 10
	got := make([]authn.OIDCSigningKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := authn.OIDCSigningKey{ID: authn.NewID(), Algorithm: "ES256", PublicKey: []byte{byte(i)},
				PrivateSealed: []byte{1, byte(i)}, CreatedAt: t0}
			got[i], errs[i] = o.EnsureOIDCSigningKey(t.Context(), k)
		})
	}
	wg.Wait()
	for i := range n {
		must(t, "EnsureOIDCSigningKey", errs[i])
		if got[i].ID != got[0].ID || string(got[i].PrivateSealed) != string(got[0].PrivateSealed) {
			t.Fatalf("concurrent EnsureOIDCSigningKey gave different keys: %+v and %+v", got[0], got[i])
		}
	}
	if !got[0].CreatedAt.Equal(micro(t0)) || got[0].Algorithm != "ES256" {
		t.Errorf("key read back as %+v", got[0])
	}
}

func testOIDCAuthRequest(t *testing.T, _ authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	r := newAuthRequest()
	must(t, "CreateOIDCAuthRequest", o.CreateOIDCAuthRequest(ctx, r))
	wantErr(t, "CreateOIDCAuthRequest again", o.CreateOIDCAuthRequest(ctx, r), authn.ErrAlreadyExists)
	got, err := o.GetOIDCAuthRequest(ctx, r.ID)
	must(t, "GetOIDCAuthRequest", err)
	r.CreatedAt, r.ExpiresAt = micro(r.CreatedAt), micro(r.ExpiresAt)
	same(t, "auth request", got, r, func(x authn.OIDCAuthRequest) authn.OIDCAuthRequest { return x })
	if got.Done() {
		t.Error("a new request is done")
	}
	noAge := newAuthRequest()
	noAge.MaxAge, noAge.Prompt, noAge.ACRValues = -1, nil, nil
	must(t, "CreateOIDCAuthRequest", o.CreateOIDCAuthRequest(ctx, noAge))
	got, err = o.GetOIDCAuthRequest(ctx, noAge.ID)
	must(t, "GetOIDCAuthRequest", err)
	if got.MaxAge != -1 || got.Prompt != nil {
		t.Errorf("MaxAge %v, Prompt %q: want -1 and nil", got.MaxAge, got.Prompt)
	}
	_, err = o.GetOIDCAuthRequest(ctx, "nope")
	wantErr(t, "GetOIDCAuthRequest(unknown)", err, authn.ErrNotFound)
	wantErr(t, "SetOIDCCode before sign-in", o.SetOIDCCode(ctx, r.ID, hashOf("c"), t0), authn.ErrNotFound)
}

func testOIDCCompleteOnce(t *testing.T, s authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	r := newAuthRequest()
	must(t, "CreateOIDCAuthRequest", o.CreateOIDCAuthRequest(ctx, r))
	in := authn.OIDCSignIn{UserID: anna.ID, AMR: []string{"otp", "pwd"}, ACR: "mfa", AuthTime: t0, Session: authn.SessionHash(hashOf("s"))}
	wantErr(t, "Complete after expiry", o.CompleteOIDCAuthRequest(ctx, r.ID, in, r.ExpiresAt), authn.ErrExpired)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = o.CompleteOIDCAuthRequest(ctx, r.ID, in, t0) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, authn.ErrUsed) {
			t.Fatalf("CompleteOIDCAuthRequest: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent completions succeeded, want 1", ok, n)
	}
	got, err := o.GetOIDCAuthRequest(ctx, r.ID)
	must(t, "GetOIDCAuthRequest", err)
	if !got.Done() || got.UserID != anna.ID || got.ACR != "mfa" || len(got.AMR) != 2 || got.Session != in.Session {
		t.Errorf("completed request: %+v", got)
	}
	wantErr(t, "Complete unknown", o.CompleteOIDCAuthRequest(ctx, "nope", in, t0), authn.ErrNotFound)
	must(t, "SetOIDCCode", o.SetOIDCCode(ctx, r.ID, hashOf("c"), t0.Add(time.Minute)))
	wantErr(t, "SetOIDCCode twice", o.SetOIDCCode(ctx, r.ID, hashOf("d"), t0.Add(time.Minute)), authn.ErrUsed)
}

func testOIDCRedeemConcurrent(t *testing.T, s authn.Store, o authn.OIDCStore) {
	r := signedIn(t, o, mkUser(t, s, "anna"), "code")
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = o.RedeemOIDCCode(t.Context(), hashOf("code"), t0) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, authn.ErrUsed) {
			t.Fatalf("RedeemOIDCCode: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent redemptions succeeded, want 1", ok, n)
	}
	err := o.RedeemOIDCCode(t.Context(), hashOf("other"), t0)
	wantErr(t, "RedeemOIDCCode(unknown)", err, authn.ErrNotFound)
	got, err := o.GetOIDCAuthRequest(t.Context(), r.ID)
	must(t, "GetOIDCAuthRequest", err)
	if got.CodeUsedAt.IsZero() || got.CodeHash != hashOf("code") {
		t.Errorf("redeemed request: %+v", got)
	}
}

func testOIDCCodeReuse(t *testing.T, s authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	anna := mkUser(t, s, "anna")
	r := signedIn(t, o, anna, "code")
	byCode, person, err := o.GetOIDCAuthRequestByCode(ctx, hashOf("code"))
	must(t, "GetOIDCAuthRequestByCode", err)
	if byCode.ID != r.ID || !byCode.CodeUsedAt.IsZero() {
		t.Fatalf("GetOIDCAuthRequestByCode = %+v, want unused request %s", byCode, r.ID)
	}
	if want, err := s.GetUser(ctx, anna.ID); err != nil || !reflect.DeepEqual(person, want) {
		t.Errorf("GetOIDCAuthRequestByCode: person %+v, want %+v (%v)", person, want, err)
	}
	toks := newTokens(r, "rt")
	must(t, "RedeemOIDCCode", o.RedeemOIDCCode(ctx, hashOf("code"), t0, toks...))
	if got, err := o.GetOIDCAuthRequest(ctx, r.ID); err != nil || got.CodeUsedAt.IsZero() {
		t.Fatalf("redeemed request: %+v, %v", got, err)
	}
	late := newTokens(r, "rt-late")
	err = o.RedeemOIDCCode(ctx, hashOf("code"), t0.Add(time.Second), late...)
	wantErr(t, "RedeemOIDCCode twice", err, authn.ErrUsed)
	for _, tok := range toks {
		if !revoked(t, o, tok.ID) {
			t.Errorf("%s token from a replayed code is not revoked", tok.Kind)
		}
	}
	for _, tok := range late {
		_, err := o.GetOIDCToken(ctx, tok.ID)
		wantErr(t, "token of a refused redemption", err, authn.ErrNotFound)
	}
	_, _, err = o.GetOIDCAuthRequestByCode(ctx, hashOf("nope"))
	wantErr(t, "GetOIDCAuthRequestByCode(unknown)", err, authn.ErrNotFound)
}

func testOIDCCodeExpired(t *testing.T, s authn.Store, o authn.OIDCStore) {
	signedIn(t, o, mkUser(t, s, "anna"), "code")
	err := o.RedeemOIDCCode(t.Context(), hashOf("code"), t0.Add(time.Minute))
	wantErr(t, "RedeemOIDCCode after expiry", err, authn.ErrExpired)
	err = o.RedeemOIDCCode(t.Context(), hashOf("code"), t0)
	wantErr(t, "RedeemOIDCCode after the expired try", err, authn.ErrUsed)
}

func testOIDCRotateConcurrent(t *testing.T, s authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	r := signedIn(t, o, mkUser(t, s, "anna"), "code")
	must(t, "CreateOIDCTokens", o.CreateOIDCTokens(ctx, newTokens(r, "rt0")...))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = o.RotateOIDCRefreshToken(ctx, hashOf("rt0"), t0, newTokens(r, "rt1-"+name("", i))...)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, authn.ErrUsed) {
			t.Fatalf("RotateOIDCRefreshToken: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent rotations succeeded, want 1", ok, n)
	}
}

func testOIDCRefreshReuse(t *testing.T, s authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	r := signedIn(t, o, mkUser(t, s, "anna"), "code")
	first := newTokens(r, "rt0")
	must(t, "CreateOIDCTokens", o.CreateOIDCTokens(ctx, first...))
	second := newTokens(r, "rt1")
	must(t, "RotateOIDCRefreshToken", o.RotateOIDCRefreshToken(ctx, hashOf("rt0"), t0, second...))
	old, err := o.GetOIDCRefreshToken(ctx, hashOf("rt0"))
	must(t, "GetOIDCRefreshToken", err)
	if old.UsedAt.IsZero() || old.Usable(t0) {
		t.Errorf("rotated token still usable: %+v", old)
	}
	cur, err := o.GetOIDCRefreshToken(ctx, hashOf("rt1"))
	must(t, "GetOIDCRefreshToken", err)
	if !cur.Usable(t0) || cur.GrantID != r.ID {
		t.Errorf("new token: %+v", cur)
	}
	err = o.RotateOIDCRefreshToken(ctx, hashOf("rt0"), t0, newTokens(r, "rt2")...)
	wantErr(t, "RotateOIDCRefreshToken with a used token", err, authn.ErrUsed)
	for _, tok := range append(first, second...) {
		if !revoked(t, o, tok.ID) {
			t.Errorf("%s token of a family whose refresh token was reused is not revoked", tok.Kind)
		}
	}
	_, err = o.GetOIDCRefreshToken(ctx, hashOf("rt2"))
	wantErr(t, "token from the refused rotation", err, authn.ErrNotFound)
	err = o.RotateOIDCRefreshToken(ctx, hashOf("rt1"), t0, newTokens(r, "rt3")...)
	wantErr(t, "RotateOIDCRefreshToken with a revoked token", err, authn.ErrNotFound)
	err = o.RotateOIDCRefreshToken(ctx, hashOf("nope"), t0)
	wantErr(t, "RotateOIDCRefreshToken(unknown)", err, authn.ErrNotFound)

	r2 := signedIn(t, o, mkUser(t, s, "bert"), "code2")
	must(t, "CreateOIDCTokens", o.CreateOIDCTokens(ctx, newTokens(r2, "late")...))
	err = o.RotateOIDCRefreshToken(ctx, hashOf("late"), t0.Add(time.Hour))
	wantErr(t, "RotateOIDCRefreshToken after expiry", err, authn.ErrExpired)
}

func testOIDCRevokeToken(t *testing.T, s authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	r := signedIn(t, o, mkUser(t, s, "anna"), "code")
	toks := newTokens(r, "rt")
	more := newTokens(r, "rt-b")
	must(t, "CreateOIDCTokens", o.CreateOIDCTokens(ctx, append(toks, more...)...))
	must(t, "RevokeOIDCToken(access)", o.RevokeOIDCToken(ctx, toks[0].ID, t0))
	if !revoked(t, o, toks[0].ID) || revoked(t, o, toks[1].ID) {
		t.Fatal("revoking an access token must revoke it alone")
	}
	must(t, "RevokeOIDCToken(refresh)", o.RevokeOIDCToken(ctx, toks[1].ID, t0))
	for _, tok := range more {
		if !revoked(t, o, tok.ID) {
			t.Error("revoking a refresh token must revoke its family")
		}
	}
	wantErr(t, "RevokeOIDCToken(unknown)", o.RevokeOIDCToken(ctx, "nope", t0), authn.ErrNotFound)
	n, err := o.RevokeOIDCGrant(ctx, r.ID, t0)
	must(t, "RevokeOIDCGrant", err)
	if n != 0 {
		t.Errorf("RevokeOIDCGrant of a revoked family revoked %d", n)
	}
}

func testOIDCRevokeSessionAndUser(t *testing.T, s authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	anna, bert := mkUser(t, s, "anna"), mkUser(t, s, "bert")
	ra, rb := signedIn(t, o, anna, "a"), signedIn(t, o, bert, "b")
	ta, tb := newTokens(ra, "ra"), newTokens(rb, "rb")
	must(t, "CreateOIDCTokens", o.CreateOIDCTokens(ctx, append(ta, tb...)...))
	refs, err := o.RevokeOIDCSessionTokens(ctx, ra.Session, t0)
	must(t, "RevokeOIDCSessionTokens", err)
	want := authn.OIDCGrantRef{ClientID: "wiki", UserID: anna.ID, Session: ra.Session}
	if len(refs) != 1 || refs[0] != want {
		t.Errorf("RevokeOIDCSessionTokens = %+v, want [%+v]", refs, want)
	}
	if !revoked(t, o, ta[0].ID) || revoked(t, o, tb[0].ID) {
		t.Error("RevokeOIDCSessionTokens revoked the wrong tokens")
	}
	// A code of the session not yet redeemed is used up with it; bert's
	// (another session) is not.
	ca, cb := signedIn(t, o, anna, "a-later"), signedIn(t, o, bert, "b-later")
	if ca.Session != ra.Session {
		t.Fatal("signedIn: the same person, another session")
	}
	_, err = o.RevokeOIDCSessionTokens(ctx, ra.Session, t0)
	must(t, "RevokeOIDCSessionTokens", err)
	wantErr(t, "RedeemOIDCCode(code of an ended session)", o.RedeemOIDCCode(ctx, hashOf("a-later"), t0, newTokens(ca, "ca")...), authn.ErrUsed)
	if _, err := o.GetOIDCRefreshToken(ctx, hashOf("ca")); !errors.Is(err, authn.ErrNotFound) {
		t.Errorf("a code of an ended session was redeemed into tokens: %v", err)
	}
	must(t, "RedeemOIDCCode(code of another session)", o.RedeemOIDCCode(ctx, hashOf("b-later"), t0, newTokens(cb, "cb")...))
	refs, err = o.RevokeOIDCUserTokens(ctx, bert.ID, t0)
	must(t, "RevokeOIDCUserTokens", err)
	if len(refs) != 1 || refs[0].UserID != bert.ID || refs[0].Session != rb.Session {
		t.Errorf("RevokeOIDCUserTokens = %+v", refs)
	}
	if !revoked(t, o, tb[1].ID) {
		t.Error("RevokeOIDCUserTokens left a token")
	}
}

func testOIDCDeleteBefore(t *testing.T, s authn.Store, o authn.OIDCStore) {
	ctx := t.Context()
	r := signedIn(t, o, mkUser(t, s, "anna"), "code")
	toks := newTokens(r, "rt")
	must(t, "CreateOIDCTokens", o.CreateOIDCTokens(ctx, toks...))
	n, err := o.DeleteOIDCBefore(ctx, t0)
	must(t, "DeleteOIDCBefore", err)
	if n != 0 {
		t.Errorf("DeleteOIDCBefore(t0) removed %d", n)
	}
	n, err = o.DeleteOIDCBefore(ctx, t0.Add(2*time.Hour))
	must(t, "DeleteOIDCBefore", err)
	if n != 3 {
		t.Errorf("DeleteOIDCBefore(+2h) removed %d, want 3", n)
	}
	_, err = o.GetOIDCToken(ctx, toks[0].ID)
	wantErr(t, "GetOIDCToken after delete", err, authn.ErrNotFound)
}
