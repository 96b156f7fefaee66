package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// A sign-in with a recovery code makes a recovery-only session: it may add
// a new key or app and nothing else, and no tool takes it. So such a
// sign-in always ends at /account/factors, with the address it was for
// kept (?return_to=), and a tool that meets such a session sends her there
// too, never to a new sign-in that would take another of her codes. Once
// she has added a key or app, the page asks her to sign in with it, and
// that sign-in goes on to the tool.

// factorsFirst is where a recovery-only session goes instead of next: her
// factors, keeping next when it is somewhere else to go on to afterwards.
func factorsFirst(next string) string {
	if next == "" || next == "/account" || strings.HasPrefix(next, factorsPath) {
		return factorsPath
	}
	return factorsPath + "?" + url.Values{"return_to": {next}}.Encode()
}

// recoveryOnlyView is what a page shows a recovery-only session: whether
// she has added a key or app since (then: sign in with it now, on to
// ReturnTo), and the minutes left to add one when her codes are all used.
type recoveryOnlyView struct {
	NewFactor   bool
	Username    string
	ReturnTo    string
	LastCode    bool // she has no recovery code left
	MinutesLeft int  // of her fresh sign-in, to add a key or app
}

// recoveryOnlyOf returns the page's view of a recovery-only session sess
// of u with creds (nil for any other session).
func (s *Server) recoveryOnlyOf(r *http.Request, sess authn.Session, u authn.User, creds []authn.Credential, codesLeft int) *recoveryOnlyView {
	if !sess.RecoveryOnly {
		return nil
	}
	v := &recoveryOnlyView{Username: u.Username, LastCode: codesLeft == 0}
	if rt := r.URL.Query().Get("return_to"); rt != "" {
		v.ReturnTo = s.returnTo(rt)
	}
	for _, c := range creds {
		if c.Kind != authn.KindRecoveryCode && !c.CreatedAt.Before(sess.AuthTime) {
			v.NewFactor = true
		}
	}
	if left := enroll.FreshSignIn - s.now().Sub(sess.AuthTime); left > 0 {
		v.MinutesLeft = int((left + time.Minute - 1) / time.Minute)
	}
	return v
}
