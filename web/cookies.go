package web

import (
	"encoding/base64"
	"net/http"
	"net/textproto"
	"os"
	"strings"
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

// maxCookies is net/http's limit on the cookies of a request: with more,
// it reads none.
const maxCookies = 3000

// cookieLimitChanged: GODEBUG sets another limit (httpcookiemaxnum), which
// requestCookie leaves to net/http.
var cookieLimitChanged = strings.Contains(os.Getenv("GODEBUG"), "httpcookiemaxnum")

// requestCookie returns the value of the first cookie named name in h, as
// http.Request.Cookie does (FuzzRequestCookie holds the two to the same
// answers), but without allocating: forward-auth reads its cookie on every
// request a proxy guards, and Request.Cookie makes a Cookie and a slice
// for it each time. name must be a valid cookie name.
func requestCookie(h http.Header, name string) (string, bool) {
	if cookieLimitChanged {
		c, err := (&http.Request{Header: h}).Cookie(name)
		if err != nil {
			return "", false
		}
		return c.Value, true
	}
	lines := h["Cookie"]
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxCookies {
		return "", false
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// validCookieValue reports whether v may stand as a cookie's value
// (RFC 6265's cookie-octets, with space and comma allowed as net/http does).
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}
