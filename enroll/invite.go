package enroll

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// BootstrapValidity is how long the first administrator's link is valid.
const BootstrapValidity = 24 * time.Hour

// NewToken returns a new invitation token: 256 random bits in base64url.
// Only its hash (authn.HashToken) is stored.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
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
