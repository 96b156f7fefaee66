package web

import (
	"context"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// factorRowsOf turns a person's keys and apps into the rows /account and
// /account/factors show: the method, and a name only where it says more
// than the method (a nickname she gave, else the key's model from its
// AAGUID, as the imported MDS blob or else the shipped list names it); a
// key with neither is named by the day it was added.
func factorRowsOf(creds []authn.Credential, models enroll.Models) []factorRow {
	rows := make([]factorRow, 0, len(creds))
	for _, c := range creds {
		row := factorRow{ID: c.ID, App: c.Kind == authn.KindTOTP, Nickname: c.Nickname, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt}
		if a, err := uuid.FromBytes(c.AAGUID); err == nil {
			row.Model = models.Name(a)
		}
		row.Name = c.Nickname
		if enroll.DefaultNickname(c.Nickname) {
			row.Name = ""
		}
		if row.Name == row.Model { // the model, named once
			row.Model = ""
		}
		model := row.Model
		if row.Name == "" && !row.App {
			row.Name, row.Model = row.Model, ""
		}
		row.Unverified = !row.App && !models.Verified(c) && model != "" && (row.Model != "" || row.Name == model)
		rows = append(rows, row)
	}
	return rows
}

// methodWords says in plain words how a sign-in was made, from its RFC
// 8176 methods: "Sicherheitsschlüssel mit PIN", "Authenticator-App und
// Passwort", "Wiederherstellungscode und Passwort" (recovery: the one-time
// code was a recovery code, which amr calls "otp" as well).
func methodWords(lang string, amr []string, recovery bool) string {
	has := func(m string) bool {
		for _, a := range amr {
			if a == m {
				return true
			}
		}
		return false
	}
	var parts []string
	switch {
	case has("hwk"), has("pop"):
		parts = append(parts, inWords(lang, "method.", "key"))
	case has("swk"):
		parts = append(parts, inWords(lang, "method.", "passkey"))
	case has("otp") && recovery:
		parts = append(parts, inWords(lang, "method.", "recovery"))
	case has("otp"):
		parts = append(parts, inWords(lang, "method.", "app"))
	}
	if has("user") {
		parts = append(parts, inWords(lang, "method.", "pin"))
	}
	if has("pwd") {
		if len(parts) == 0 {
			parts = append(parts, inWords(lang, "method.", "password"))
		} else {
			parts = append(parts, inWords(lang, "method.", "andpassword"))
		}
	}
	if len(parts) == 0 {
		return strings.Join(amr, " ")
	}
	s := strings.Join(parts, " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// toolOf names the tool a sign-in returning to returnTo is for, for the
// audit event that records it (authn.SignInConfig.ToolOf): the OIDC
// client's id when it returns to an authorization request, the host of a
// forward-auth address, and "" for Keyhall's own pages.
func (s *Server) toolOf(ctx context.Context, returnTo string) string {
	u, err := url.Parse(returnTo)
	if err != nil {
		return ""
	}
	if u.Host != "" && !strings.EqualFold(u.Host, s.publicURL.Host) {
		return strings.ToLower(u.Hostname())
	}
	if u.Path != oidcContinuePath || s.oidc == nil {
		return ""
	}
	ref := s.store.Load()
	if ref == nil {
		return ""
	}
	ar, err := ref.Store.GetOIDCAuthRequest(ctx, u.Query().Get("id"))
	if err != nil {
		return ""
	}
	return ar.ClientID
}
