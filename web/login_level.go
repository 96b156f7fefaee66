package web

import (
	"net/url"

	"github.com/keyhall/keyhall/authn"
)

// msgTwoFactorsNeeded: a tool asked for a sign-in with two factors (level
// mfa: app code and password, or a security key), and the sign-in she
// has is less (a citizen's app code alone). Signing in the same way again
// would lead back here.
var msgTwoFactorsNeeded = message{
	DE: "Diese Anwendung verlangt eine Anmeldung mit zwei Faktoren: einem Sicherheitsschlüssel oder Passkey, oder einem App-Code mit Passwort. " +
		"Ein App-Code oder Wiederherstellungscode allein genügt ihr nicht. Haben Sie keinen Schlüssel, richten Sie unter „Ihre Anmeldemethoden“ einen ein, oder wenden Sie sich an die IT.",
	EN: "This application needs a sign-in with two factors: a security key or passkey, or an app code with a password. " +
		"An app code or recovery code alone is not enough for it. If you have no key, set one up under “Your sign-in methods”, or contact IT.",
}

// levelNotice is what /login says when a tool sent her for a level (OIDC's
// level=, forward-auth's acr=): every level a sign-in may fall short of is
// named, so that nobody goes round without a word (phr and phrh:
// msgKeyNeeded, with NeedKey).
func (s *Server) levelNotice(q url.Values) (message, bool) {
	if needsKey(q) {
		return msgKeyNeeded, true
	}
	for _, l := range []string{q.Get("level"), q.Get("acr")} {
		if authn.Level(l) == authn.LevelMFA {
			return s.withHelp(msgTwoFactorsNeeded), true
		}
	}
	return message{}, false
}
