package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/keyhall/keyhall/authn"
)

// newSession stores a session for u and returns its cookie value.
func (f *fixture) newSession(u authn.User) (string, authn.Session) {
	f.t.Helper()
	id := make([]byte, sessionIDLen)
	rand.Read(id)
	now := time.Now()
	s := authn.Session{
		Hash: authn.HashSessionID(id), UserID: u.ID, AMR: []string{"hwk", "user"}, ACR: "phrh",
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := f.store.CreateSession(context.Background(), s); err != nil {
		f.t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(id), s
}

func TestSessionStore(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	value, sess := f.newSession(anna)
	var store sessions.Store = f.srv.sessions
	request := func(cookie string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
		}
		return r
	}

	for name, cookie := range map[string]string{"none": "", "garbled": "x", "unknown": base64.RawURLEncoding.EncodeToString(make([]byte, 32))} {
		gs, err := store.Get(request(cookie), SessionCookie)
		if err != nil || !gs.IsNew || len(gs.Values) != 0 {
			t.Errorf("%s cookie: IsNew %v, values %v, err %v", name, gs.IsNew, gs.Values, err)
		}
	}

	r := request(value)
	gs, err := store.Get(r, SessionCookie)
	if err != nil || gs.IsNew || gs.ID != value {
		t.Fatalf("valid cookie: IsNew %v, ID %q, err %v", gs.IsNew, gs.ID, err)
	}
	if got := gs.Values[valUser].(authn.User); got.ID != anna.ID {
		t.Errorf("session of %s, want %s", got.ID, anna.ID)
	}
	if again, _ := store.Get(r, SessionCookie); again != gs {
		t.Error("a second Get in the same request reads the store again")
	}

	// Save writes only the id.
	rec := httptest.NewRecorder()
	if err := gs.Save(r, rec); err != nil {
		t.Fatal(err)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].Value != value || !c[0].Secure || !c[0].HttpOnly || c[0].Path != "/" {
		t.Errorf("saved cookie %+v", c)
	}

	// MaxAge < 0 revokes in the store and deletes the cookie.
	gs.Options.MaxAge = -1
	rec = httptest.NewRecorder()
	if err := gs.Save(r, rec); err != nil {
		t.Fatal(err)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("sign-out cookie %+v", c)
	}
	got, err := f.store.GetSession(context.Background(), sess.Hash)
	if err != nil || got.RevokedAt.IsZero() {
		t.Errorf("session not revoked: %+v, %v", got, err)
	}
	if gs, _ := store.Get(request(value), SessionCookie); !gs.IsNew {
		t.Error("a revoked session is still read")
	}
}

func TestSessionStoreWithoutDatabase(t *testing.T) {
	s := newTestServer(t, "http://localhost:8080")
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: base64.RawURLEncoding.EncodeToString(make([]byte, 32))})
	gs, err := s.sessions.Get(r, SessionCookie)
	if !errors.Is(err, errStoreNotOpen) || gs == nil || !gs.IsNew {
		t.Errorf("without a database: %v, %+v (must fail closed)", err, gs)
	}
}
