package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// message is a text a person reads, in German (first) and English.
type message struct{ DE, EN string }

var (
	msgUnavailable = message{
		DE: "Keyhall erreicht seine Datenbank gerade nicht. Bitte versuchen Sie es in einer Minute noch einmal.",
		EN: "Keyhall cannot reach its database right now. Please try again in a minute.",
	}
	msgNotFound = message{
		DE: "Diese Seite gibt es nicht. Bitte prüfen Sie die Adresse.",
		EN: "There is no such page. Please check the address.",
	}
	msgInternal = message{
		DE: "Etwas ist schiefgegangen. Bitte versuchen Sie es noch einmal; bleibt der Fehler, wenden Sie sich an die IT.",
		EN: "Something went wrong. Please try again; if it persists, contact IT.",
	}
	msgNotSignedIn = message{
		DE: "Sie sind nicht angemeldet.",
		EN: "You are not signed in.",
	}
	msgCrossOrigin = message{
		DE: "Diese Anfrage kam von einer anderen Website und wurde abgelehnt.",
		EN: "This request came from another website and was refused.",
	}
)

var languages = language.NewMatcher([]language.Tag{language.German, language.English})

// lang returns "de" or "en": the language asked for with the switch
// (?lang=, then the lang cookie it sets), else from the request's
// Accept-Language; German unless English is preferred.
func lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "de" || l == "en" {
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "de" || c.Value == "en") {
		return c.Value
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return "de"
	}
	_, i, _ := languages.Match(tags...)
	if i == 1 {
		return "en"
	}
	return "de"
}

func (m message) in(lang string) string {
	if lang == "en" {
		return m.EN
	}
	return m.DE
}

// wantsJSON reports whether the client is a script rather than a page: an
// /api/ path, a WebAuthn begin or finish endpoint, or a request that sends
// or accepts JSON.
func wantsJSON(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasSuffix(p, "/begin") || strings.HasSuffix(p, "/finish") ||
		strings.Contains(r.Header.Get("Accept"), "application/json") ||
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
}

// fail is the one way to answer with an error: the person gets msg in her
// language, the log gets err (never the page), at a level that follows the
// status, and nothing is cached.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg message, err error) {
	s.failPage(w, r, status, msg, err, nil)
}

// failPage is fail for a form that is shown again with the message: v is
// the page to render (nil: a plain error page). For a script, v.Next (if
// set) tells it where to go.
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, status int, msg message, err error, v *view) {
	level := slog.LevelDebug
	switch {
	case status == http.StatusServiceUnavailable:
		level = slog.LevelWarn
	case status >= 500:
		level = slog.LevelError
	case status == http.StatusForbidden || status == http.StatusTooManyRequests:
		level = slog.LevelInfo
	}
	if err != nil || level > slog.LevelDebug {
		s.logger.Log(r.Context(), level, "request failed", "method", r.Method, "route", r.Pattern,
			"status", status, "client", s.clientAddr(r), "err", err)
	}
	text := msg.in(lang(r))
	if wantsJSON(r) {
		body := map[string]string{"error": text}
		if v != nil && v.Next != "" {
			body["next"] = v.Next
		}
		s.writeJSON(w, status, body)
		return
	}
	if v == nil {
		v = &view{Page: "error"}
	}
	v.Error = text
	if s.pages != nil && s.render(w, r, status, v) == nil {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(text + "\n"))
}

// writeJSON writes v as JSON; responses are never cached.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.logger.Debug("write response", "err", err)
	}
}
