package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/keyhall/keyhall/authn"
)

// readJSON reads a JSON request body of at most maxBody bytes. The script
// always sends Content-Type: application/json; a form or a plain-text body
// (which a cross-site form could send) is refused.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		s.fail(w, r, http.StatusUnsupportedMediaType, msgBadRequest, fmt.Errorf("content type %q is not JSON", r.Header.Get("Content-Type")))
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		s.fail(w, r, http.StatusRequestEntityTooLarge, msgBadRequest, err)
		return nil, false
	}
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, msgBadRequest, fmt.Errorf("read body: %w", err))
		return nil, false
	}
	if !json.Valid(b) {
		s.fail(w, r, http.StatusBadRequest, msgBadRequest, errors.New("body is not valid JSON"))
		return nil, false
	}
	return b, true
}

// writeOptions sends the WebAuthn options authn made (already JSON).
func (s *Server) writeOptions(w http.ResponseWriter, options []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(options)
}

// keyBegin opens a security-key assertion for the pending sign-in and
// returns its options (WebAuthn L3 §5.1.4, PublicKeyCredentialRequestOptions).
func (s *Server) keyBegin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.readJSON(w, r); !ok {
		return
	}
	si := s.signInFor(w, r)
	if si == nil {
		return
	}
	options, p, err := si.BeginKey(r.Context(), pendingID(r))
	if err != nil {
		s.stepFailed(w, r, string(authn.StepKey), p, err)
		return
	}
	setPendingCookie(w, p.PendingID)
	s.writeOptions(w, options)
}

// passkeyBegin opens a discoverable assertion with user verification, for a
// sign-in without a username.
func (s *Server) passkeyBegin(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readJSON(w, r)
	if !ok {
		return
	}
	var req struct {
		ReturnTo string `json:"return_to"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		s.fail(w, r, http.StatusBadRequest, msgBadRequest, fmt.Errorf("decode passkey request: %w", err))
		return
	}
	si := s.signInFor(w, r)
	if si == nil {
		return
	}
	options, p, err := si.BeginPasskey(r.Context(), s.returnTo(req.ReturnTo), s.clientInfo(r))
	if err != nil {
		s.stepFailed(w, r, "login", p, err)
		return
	}
	setPendingCookie(w, p.PendingID)
	s.writeOptions(w, options)
}

// keyFinish verifies the browser's assertion (credential.toJSON()) and
// tells the script where to go next: {"next": "/…"}.
func (s *Server) keyFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readJSON(w, r)
	if !ok {
		return
	}
	si := s.signInFor(w, r)
	if si == nil {
		return
	}
	p, err := si.FinishKey(r.Context(), pendingID(r), body, s.clientInfo(r))
	if err != nil {
		s.stepFailed(w, r, string(authn.StepKey), p, err)
		return
	}
	next, ok := s.complete(w, r, p)
	if !ok {
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"next": next})
}
