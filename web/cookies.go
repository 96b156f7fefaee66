package web

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// Cookie names. The __Host- prefix makes the browser insist on Secure,
// Path=/ and no Domain, so no other host (a subdomain included) can set or
// read them.
const (
	// PendingCookie carries the id of a sign-in in progress: the pending
	// sign-in itself, sealed (authn).
	PendingCookie = "__Host-keyhall-login"
	// langCookie remembers the language a person chose with the switch. It
	// holds nothing secret, so it has no prefix.
	langCookie = "lang"
)

// pendingMaxAge is how long the browser keeps a pending sign-in's id: as
// long as the store keeps the step open.
const pendingMaxAge = 5 * time.Minute

// hostCookie returns a cookie with the flags every Keyhall cookie has:
// Secure (browsers treat http://localhost as secure too), HttpOnly,
// SameSite=Lax, Path=/ and no Domain. maxAge 0 makes a browser-session
// cookie, a negative one deletes it.
func hostCookie(name, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.Expires = time.Unix(1, 0)
	}
	return c
}

// setPendingCookie hands the browser the id of the next step of its sign-in.
func setPendingCookie(w http.ResponseWriter, id []byte) {
	http.SetCookie(w, hostCookie(PendingCookie, base64.RawURLEncoding.EncodeToString(id), int(pendingMaxAge/time.Second)))
}

// clearPendingCookie makes the browser forget its pending sign-in.
func clearPendingCookie(w http.ResponseWriter) {
	http.SetCookie(w, hostCookie(PendingCookie, "", -1))
}

// pendingID returns the pending sign-in's id from the request's cookie, or
// nil when there is none or it is garbled.
func pendingID(r *http.Request) []byte {
	c, err := r.Cookie(PendingCookie)
	if err != nil {
		return nil
	}
	// The id is the sealed pending sign-in (authn opens and checks it);
	// anything far longer than one is not one.
	if len(c.Value) > base64.RawURLEncoding.EncodedLen(authn.MaxPendingIDLen) {
		return nil
	}
	id, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	return id
}

// rememberLang stores the language chosen with the switch (?lang=de|en) for
// a year.
func rememberLang(w http.ResponseWriter, r *http.Request) {
	l := r.URL.Query().Get("lang")
	if l != "de" && l != "en" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}
