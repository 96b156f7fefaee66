package enroll

import (
	"cmp"
	"crypto/x509"
	"slices"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
)

// KeyPolicy is what one group asks of its members' factors. The zero value
// admits any key and no authenticator app; DefaultKeyPolicy is the policy
// for people in no group with a policy.
type KeyPolicy struct {
	// NeedDE and NeedEN say in a few words what the group needs, for the
	// refusal message: "einen YubiKey (FIDO-zertifiziert)". Empty: a
	// generic wording.
	NeedDE, NeedEN string
	// TrustedRoots, when not empty, requires attestation (WebAuthn L3 §6.5)
	// whose certificate chain ends in one of these roots; "none" and self
	// attestation are refused.
	TrustedRoots []*x509.Certificate
	// AAGUIDs, when not empty, lists the authenticator models admitted.
	AAGUIDs []uuid.UUID
	// RefuseSynced refuses synced passkeys (the backup-eligible flag BE,
	// WebAuthn L3 §6.1): the secret must stay on the hardware key.
	RefuseSynced bool
	// AllowTOTP admits an authenticator app at all; TOTPAlone lets an app
	// be a person's only factor (else a key must come first).
	AllowTOTP, TOTPAlone bool
	// RequireUV requires the key to verify the person (PIN, fingerprint)
	// at registration: user verification "required" (WebAuthn L3 §5.4.6).
	RequireUV bool
}

// DefaultKeyPolicy is the policy of a person in no group with a policy: any
// key, an app also alone.
func DefaultKeyPolicy() KeyPolicy { return KeyPolicy{AllowTOTP: true, TOTPAlone: true} }

// Policy is the key policy of every group, from configuration.
type Policy struct {
	Groups  map[string]KeyPolicy // by canonical group name
	Default KeyPolicy            // for people in none of Groups; use DefaultKeyPolicy
}

// GroupRule is one group's policy as it applies to a person.
type GroupRule struct {
	Group string // canonical group name; "" for the default policy
	KeyPolicy
}

// Rules are the key policies that apply to one person: those of all her
// groups that have one, or the default. A factor must satisfy every rule.
type Rules struct {
	Groups []GroupRule
}

// For returns the rules of a person who is a member of groups.
func (p Policy) For(groups []authn.Group) Rules {
	var r Rules
	for _, g := range groups {
		if kp, ok := p.Groups[g.Name]; ok {
			r.Groups = append(r.Groups, GroupRule{Group: g.Name, KeyPolicy: kp})
		}
	}
	if len(r.Groups) == 0 {
		r.Groups = []GroupRule{{KeyPolicy: p.Default}}
	}
	slices.SortFunc(r.Groups, func(a, b GroupRule) int { return cmp.Compare(a.Group, b.Group) })
	return r
}

// all reports whether f holds for every rule.
func (r Rules) all(f func(KeyPolicy) bool) bool {
	return !slices.ContainsFunc(r.Groups, func(g GroupRule) bool { return !f(g.KeyPolicy) })
}

// RequireUV reports whether any group requires user verification.
func (r Rules) RequireUV() bool { return !r.all(func(k KeyPolicy) bool { return !k.RequireUV }) }

// AllowTOTP reports whether every group admits an authenticator app.
func (r Rules) AllowTOTP() bool { return r.all(func(k KeyPolicy) bool { return k.AllowTOTP }) }

// TOTPAlone reports whether an app may be the person's only factor.
func (r Rules) TOTPAlone() bool {
	return r.AllowTOTP() && r.all(func(k KeyPolicy) bool { return k.TOTPAlone })
}

// RequireAttestation reports whether any group requires attestation.
func (r Rules) RequireAttestation() bool {
	return !r.all(func(k KeyPolicy) bool { return len(k.TrustedRoots) == 0 })
}

// refusingTOTP returns the first group that forbids an app (alone, when
// alone is true), or "" and false when none does.
func (r Rules) refusingTOTP(alone bool) (GroupRule, bool) {
	for _, g := range r.Groups {
		if !g.AllowTOTP || (alone && !g.TOTPAlone) {
			return g, true
		}
	}
	return GroupRule{}, false
}
