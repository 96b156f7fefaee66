package web

import (
	"net/http"
	"strings"

	"github.com/keyhall/keyhall/authn"
)

var (
	// msgAccountReset: the session in her cookie ended with an IT reset.
	msgAccountReset = message{
		DE: "Ihr Zugang wurde zurückgesetzt – bitte nutzen Sie den neuen Brief.",
		EN: "Your access was reset – please use the new letter.",
	}
	// msgKeyNotRegistered: a key sign-in refused the key, or the key did
	// not answer (the browser found none of hers on it): after a reset her
	// old key is no longer registered, and pressing again will not help.
	// The same words as the key pages' script says when the key did not
	// answer (layout.html).
	msgKeyNotRegistered = texts["webauthn.notregistered"]
)

// helpLine is where the IT service is reached, as the letters print it
// (enroll.Sender), in lang; "" when none is configured.
func (s *Server) helpLine(lang string) string {
	snd := s.enrollCfg.Notices.Sender
	var de, en []string
	if snd.HelpPhone != "" {
		de, en = append(de, "Telefon "+snd.HelpPhone), append(en, "phone "+snd.HelpPhone)
	}
	if snd.HelpEmail != "" {
		de, en = append(de, "E-Mail "+snd.HelpEmail), append(en, "e-mail "+snd.HelpEmail)
	}
	if len(de) == 0 {
		return ""
	}
	return message{DE: "IT-Service: " + strings.Join(de, ", ") + ".", EN: "IT service: " + strings.Join(en, ", ") + "."}.in(lang)
}

// withHelp is msg followed by where the IT service is reached.
func (s *Server) withHelp(msg message) message {
	if h := s.helpLine("de"); h != "" {
		msg.DE += " " + h
		msg.EN += " " + s.helpLine("en")
	}
	return msg
}

// endedByReset reports whether the request's session cookie names a
// session an IT reset ended: it was revoked at the moment her new, still
// unused invitation was made (enroll.Service.Reset does both in one
// transaction). Any doubt, a failed read included, is no.
func (s *Server) endedByReset(r *http.Request) bool {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	h, ok := sessionCookieHash(c.Value)
	ref := s.store.Load()
	if !ok || ref == nil {
		return false
	}
	sess, err := ref.Store.GetSession(r.Context(), h)
	if err != nil || sess.RevokedAt.IsZero() {
		return false
	}
	es, ok := ref.Store.(authn.EnrollStore)
	if !ok {
		return false
	}
	inv, _, err := es.OpenInvitation(r.Context(), sess.UserID)
	return err == nil && inv.CreatedAt.Equal(sess.RevokedAt)
}
