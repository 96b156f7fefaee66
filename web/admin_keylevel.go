package web

import (
	"errors"
	"net/http"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll/desk"
)

// msgConsoleKeyNotAttested: she just signed in with a key and PIN, but no
// trusted root vouched for the key at its registration (a key registered
// with "none" attestation, as Firefox sends it, or a synced passkey), so
// the sign-in reaches phr, not the phrh the console asks for. Another
// touch of the same key would lead here again.
var msgConsoleKeyNotAttested = message{
	DE: "Die Verwaltung verlangt einen Hardware-Sicherheitsschlüssel, dessen Herkunft bei der Registrierung bestätigt wurde (Attestierung). " +
		"Der Schlüssel, mit dem Sie sich gerade angemeldet haben, erfüllt das nicht. Bitte lassen Sie sich von der IT einen solchen Schlüssel registrieren.",
	EN: "The console needs a hardware security key whose make was attested when it was registered. " +
		"The key you just signed in with is not one. Please ask IT to register such a key for you.",
}

// keyBelowConsole reports whether sess is a fresh key sign-in that still
// falls short of the console's level: sending her to the key again would
// only bring her back here.
func (s *Server) keyBelowConsole(sess authn.Session) bool {
	l := authn.Level(sess.ACR)
	return l.Meets(authn.LevelPhr) && !l.Meets(authn.LevelPhrh) && s.now().Sub(sess.AuthTime) <= adminFresh
}

// adminKeyNotAttested audits the refusal and tells her which key the
// console needs and whom to ask.
func (s *Server) adminKeyNotAttested(w http.ResponseWriter, r *http.Request, d *desk.Service, a desk.Actor) {
	if err := d.Refused(r.Context(), a.Audit, a.ClientAddr, r.Method+" "+r.URL.Path, "key not attested as hardware"); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, msgUnavailable, err)
		return
	}
	s.fail(w, r, http.StatusForbidden, s.withHelp(msgConsoleKeyNotAttested), errors.New("console: key sign-in below phrh"))
}
