package enroll

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/keyhall/keyhall/authn"
)

// BootstrapValidity is how long the first administrator's link is valid.
const BootstrapValidity = 24 * time.Hour

// NewToken returns a new invitation token: 52 symbols of CodeAlphabet
// (52·log2(31) ≈ 257.6 random bits) in thirteen groups of four, e.g.
// "K7XM-4RPQ-…". The alphabet has no look-alikes (0/O, 1/I/L), and case
// and dashes do not matter (NormalizeToken), so a link typed from the
// letter works however it was read. Only its hash (authn.HashToken of
// this form) is stored.
func NewToken() string {
	var b strings.Builder
	buf := make([]byte, 1)
	for i := 0; i < tokenLen; {
		rand.Read(buf)     // never fails (crypto/rand, Go ≥ 1.24)
		if buf[0] >= 248 { // 248 = 8·31: keep the draw uniform
			continue
		}
		if i > 0 && i%tokenGroupLen == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(CodeAlphabet[int(buf[0])%len(CodeAlphabet)])
		i++
	}
	return b.String()
}

// Token layout: 52 symbols of CodeAlphabet in groups of four.
const (
	tokenLen      = 52
	tokenGroupLen = 4
)

// NormalizeToken returns the form of a link's token whose hash is stored:
// a token of CodeAlphabet typed in any case, with or without its dashes
// (or with spaces), becomes its grouped upper-case form. Anything else,
// such as the base64url tokens of invitations issued before, is returned
// as it is.
func NormalizeToken(s string) string {
	if len(s) > 2*tokenLen {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ':
			continue
		case r < unicode.MaxASCII && strings.ContainsRune(CodeAlphabet, unicode.ToUpper(r)):
			if b.Len() > 0 && (b.Len()+1)%(tokenGroupLen+1) == 0 {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToUpper(r))
		default:
			return s
		}
	}
	if b.Len() != tokenLen+tokenLen/tokenGroupLen-1 {
		return s
	}
	return b.String()
}

// Link returns the address at which an invitation token is redeemed.
func Link(publicURL *url.URL, token string) string {
	return publicURL.JoinPath("enroll", token).String()
}

// BootstrapParams describe the first administrator.
type BootstrapParams struct {
	PublicURL *url.URL
	Username  string // canonical
	Group     string // canonical name of the administrators' group
	Now       time.Time
}

// Bootstrap creates, on a database without any person, the first
// administrator, the administrators' group and an invitation valid for
// BootstrapValidity, in one transaction. It returns the invitation's link,
// or "" when the database already had people (then nothing changes).
func Bootstrap(ctx context.Context, st authn.InvitationStore, p BootstrapParams) (link string, expires time.Time, err error) {
	now := p.Now.UTC()
	admin := authn.User{
		ID: authn.NewID(), Username: p.Username, DisplayName: "Administrator",
		Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now,
	}
	group := authn.Group{
		ID: authn.NewID(), Name: p.Group, DisplayName: "Keyhall administrators",
		Source: authn.SourceLocal, CreatedAt: now,
	}
	token := NewToken()
	inv := authn.Invitation{
		ID: authn.NewID(), UserID: admin.ID, TokenHash: authn.HashToken(token),
		Purpose: authn.PurposeBootstrap, CreatedBy: "system", CreatedAt: now, ExpiresAt: now.Add(BootstrapValidity),
	}
	ev := authn.AuditEvent{
		Time: now, Actor: "system", Action: "bootstrap", Subject: "user:" + admin.ID,
		Details: map[string]string{"username": admin.Username, "group": group.Name, "expires_at": inv.ExpiresAt.Format(time.RFC3339)},
	}
	created, err := st.Bootstrap(ctx, admin, group, inv, ev)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("bootstrap first administrator: %w", err)
	}
	if !created {
		return "", time.Time{}, nil
	}
	return Link(p.PublicURL, token), inv.ExpiresAt, nil
}

// Invitation is what a person needs to enroll: the link, or her username
// with the code (to read aloud or type), before ExpiresAt. Neither is
// stored; only their hashes are.
type Invitation struct {
	Link      string
	Code      string // display form, e.g. "K7XM-4RPQ-9TWD-3HNA"
	ExpiresAt time.Time
	User      authn.User
	// RequirePassword: IT requires that she (a local person) chooses a
	// password in her enrollment (Terms.RequirePassword).
	RequirePassword bool
}

// Terms are what IT sets on an invitation (IssueWith, ResetWith).
type Terms struct {
	// Validity is how long the invitation is valid (0: DefaultValidity;
	// at most MaxValidity).
	Validity time.Duration
	// RequirePassword: a local person without a password must choose one
	// in the enrollment this invitation opens; it does not finish without
	// one (Finish). Refused for a directory person, whose password is the
	// directory's.
	RequirePassword bool
	// Audit holds more details for the audit event (the IT desk's via,
	// identity check); they do not override the event's own.
	Audit map[string]string
	// ClientAddr is the console's client address for the audit event.
	ClientAddr string
}

// withAudit adds t.Audit's details to d where d has none of that name.
func (t Terms) withAudit(d map[string]string) map[string]string {
	for k, v := range t.Audit {
		if _, ok := d[k]; !ok && v != "" {
			d[k] = v
		}
	}
	return d
}

// Issue makes a new invitation for a person, valid for validity (0: 14
// days; at most 90), and voids her older ones. actor and reason go to the
// audit log.
func (s *Service) Issue(ctx context.Context, userID string, validity time.Duration, actor, reason string) (Invitation, error) {
	return s.IssueWith(ctx, userID, Terms{Validity: validity}, actor, reason)
}

// IssueWith is Issue with IT's terms: the validity, and whether she must
// choose a password (audited as the detail require_password).
func (s *Service) IssueWith(ctx context.Context, userID string, t Terms, actor, reason string) (Invitation, error) {
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return Invitation{}, fmt.Errorf("issue invitation: %w", err)
	}
	inv, out, codeHash, err := s.newInvitation(u, t, actor)
	if err != nil {
		return Invitation{}, err
	}
	ev := authn.AuditEvent{
		Time: inv.CreatedAt, Actor: actor, Action: "invitation.create", Subject: "user:" + u.ID, Reason: reason,
		ClientAddr: t.ClientAddr,
		Details:    t.withAudit(map[string]string{"invitation_id": inv.ID, "expires_at": inv.ExpiresAt.Format(time.RFC3339)}),
	}
	if inv.RequirePassword {
		ev.Details["require_password"] = "true"
	}
	if err := s.cfg.Store.CreateInvitationWithCode(ctx, inv, codeHash, ev); err != nil {
		return Invitation{}, fmt.Errorf("issue invitation for %s: %w", u.Username, err)
	}
	return out, nil
}

// newInvitation makes the secrets of an invitation for u: a 256-bit link
// token and a code, of which the store keeps only hashes.
func (s *Service) newInvitation(u authn.User, t Terms, actor string) (authn.Invitation, Invitation, authn.TokenHash, error) {
	if t.RequirePassword && u.Source == authn.SourceDirectory {
		return authn.Invitation{}, Invitation{}, authn.TokenHash{}, fmt.Errorf("issue invitation: %w", ErrDirectoryPassword)
	}
	validity := t.Validity
	switch {
	case validity == 0:
		validity = DefaultValidity
	case validity < 0 || validity > MaxValidity:
		return authn.Invitation{}, Invitation{}, authn.TokenHash{},
			fmt.Errorf("issue invitation: validity %s is not between 0 and %s", validity, MaxValidity)
	}
	now := s.now()
	token, code := NewToken(), NewCode()
	canonical, err := NormalizeCode(code)
	if err != nil {
		return authn.Invitation{}, Invitation{}, authn.TokenHash{}, fmt.Errorf("issue invitation: %w", err)
	}
	inv := authn.Invitation{
		ID: authn.NewID(), UserID: u.ID, TokenHash: authn.HashToken(token), Purpose: authn.PurposeEnroll,
		CreatedBy: actor, CreatedAt: now, ExpiresAt: now.Add(validity), RequirePassword: t.RequirePassword,
	}
	out := Invitation{Link: Link(s.cfg.PublicURL, token), Code: code, ExpiresAt: inv.ExpiresAt, User: u,
		RequirePassword: t.RequirePassword}
	return inv, out, hashCode(u.ID, canonical), nil
}
