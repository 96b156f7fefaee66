package enroll

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
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
	// RefuseCompromised refuses a key whose model FIDO's Metadata Service
	// reports compromised (authn.KeyModel.Compromise, from the imported
	// MDS3 blob), and a key whose model is not proven by an attestation
	// naming it and chaining to a root the blob lists for that model, to
	// one of this group's TrustedRoots or to Yubico's (GroupRule.modelProven):
	// its AAGUID would be only its own word. Keys registered before stay,
	// flagged for IT.
	RefuseCompromised bool
	// RefuseSynced refuses synced passkeys (the backup-eligible flag BE,
	// WebAuthn L3 §6.1): the secret must stay on the hardware key.
	RefuseSynced bool
	// AllowTOTP admits an authenticator app at all; TOTPAlone lets an app
	// be a person's only factor (else a key must come first).
	AllowTOTP, TOTPAlone bool
	// RequireUV requires the key to verify the person (PIN, fingerprint)
	// at registration: user verification "required" (WebAuthn L3 §5.4.6).
	RequireUV bool
	// NoPassword: the group's members have no password and are never
	// asked to choose one (authn.GroupPolicy.NoPassword: an app code or a
	// recovery code signs them in alone). Recovery codes and an app are
	// offered without one; pair it with RequireUV, so that a key signs in
	// alone too.
	NoPassword bool
	// SignInLevel is the lowest level the group's sign-ins must reach
	// (authn.GroupPolicy.Level). An app signs in at mfa: where the level
	// is phr or phrh, sign-in refuses it, so it is not offered either,
	// whatever AllowTOTP says.
	SignInLevel authn.Level
}

// appAdmitted reports whether k admits an app that can also sign in.
func (k KeyPolicy) appAdmitted() bool { return k.AllowTOTP && authn.LevelMFA.Meets(k.SignInLevel) }

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
	// roots are Policy.TrustedRoots of the policy the rules come from
	// (For): what makes a key attested (Rules.attested).
	roots []*x509.Certificate
}

// For returns the rules of a person who is a member of groups.
func (p Policy) For(groups []authn.Group) Rules {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	r := p.forNames(names)
	r.roots = p.TrustedRoots()
	return r
}

// forNames returns the rules of a person who is a member of the groups
// named, without the roots that For adds: CheckStoredKey, at every key
// sign-in, needs only the groups' own, and parsing Yubico's roots there
// cost more than the rest of the check.
func (p Policy) forNames(groups []string) Rules {
	var r Rules
	for _, g := range groups {
		if kp, ok := p.Groups[g]; ok {
			r.Groups = append(r.Groups, GroupRule{Group: g, KeyPolicy: kp})
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

// NoPassword reports whether every group of hers says she has no
// password (KeyPolicy.NoPassword).
func (r Rules) NoPassword() bool { return r.all(func(k KeyPolicy) bool { return k.NoPassword }) }

// AllowTOTP reports whether every group admits an authenticator app.
// An app is never admitted where a group's sign-in level is phr or phrh.
func (r Rules) AllowTOTP() bool { return r.all(KeyPolicy.appAdmitted) }

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
		if !g.appAdmitted() || (alone && !g.TOTPAlone) {
			return g, true
		}
	}
	return GroupRule{}, false
}

// TrustedRoots are the roots whose attestation makes a key a hardware key
// (authn.Credential.Attested, amr "hwk"): Yubico's shipped roots and every
// group's TrustedRoots, each once. Yubico's are always among them, so that
// a YubiKey reaches phrh with no policy at all.
func (p Policy) TrustedRoots() []*x509.Certificate {
	out := YubicoRoots()
	add := func(roots []*x509.Certificate) {
		for _, r := range roots {
			if !slices.ContainsFunc(out, func(c *x509.Certificate) bool { return bytes.Equal(c.Raw, r.Raw) }) {
				out = append(out, r)
			}
		}
	}
	add(p.Default.TrustedRoots)
	for _, name := range slices.Sorted(maps.Keys(p.Groups)) {
		add(p.Groups[name].TrustedRoots)
	}
	return out
}

// CheckStoredKey applies the key policies of groups (the owner's group
// names) to a stored security key at sign-in (authn.KeyPolicy): a group's
// policy holds for every use of a key, also of one registered before its
// owner joined the group. It checks what the stored key still shows: a
// synced passkey where the group refuses them, an attestation chain that
// was verified at registration and ends in one of the group's roots (at
// the time of registration, as WebAuthn L3 §7.1 step 24 checked it), and
// the model. User verification is asked at sign-in by the sign-in policy.
func (p Policy) CheckStoredKey(groups []string, c authn.Credential) error {
	if c.Kind != authn.KindWebAuthn {
		return nil
	}
	for _, g := range p.forNames(groups).Groups {
		if err := g.checkStored(c); err != nil {
			if g.Group == "" {
				return err
			}
			return fmt.Errorf("group %s: %w", g.Group, err)
		}
	}
	return nil
}

// checkStored returns why g refuses the stored key c, or nil.
func (g GroupRule) checkStored(c authn.Credential) error {
	if g.RefuseSynced && c.BackupEligible {
		return errors.New("a synced passkey (backup-eligible), the group refuses them")
	}
	if len(g.TrustedRoots) > 0 {
		if !c.Attested {
			return fmt.Errorf("attestation %q was not verified against a trusted root at registration", c.AttestationFmt)
		}
		chain, err := x509.ParseCertificates(c.AttestationChain)
		if err != nil {
			return fmt.Errorf("read stored attestation chain: %w", err)
		}
		k := KeyInfo{Format: c.AttestationFmt, Chain: chain}
		if reason, err := verifyChain(k, g.TrustedRoots, c.CreatedAt); reason != "" {
			return fmt.Errorf("not attested by one of the group's roots: %w", err)
		}
	}
	if len(g.AAGUIDs) > 0 && !slices.Contains(g.AAGUIDs, storedAAGUID(c)) {
		return fmt.Errorf("model %s is not on the group's list", storedAAGUID(c))
	}
	return nil
}

// storedAAGUID is the model of a stored key as registration saw it: the
// AAGUID of its authenticator data or, where that is zero (fido-u2f,
// WebAuthn L3 §8.6), the one its attestation certificate names.
func storedAAGUID(c authn.Credential) uuid.UUID {
	var v uuid.UUID
	copy(v[:], c.AAGUID)
	if v != (uuid.UUID{}) || len(c.AttestationChain) == 0 {
		return v
	}
	if chain, err := x509.ParseCertificates(c.AttestationChain); err == nil && len(chain) > 0 {
		if a, ok := certAAGUID(chain[0]); ok {
			return a
		}
	}
	return v
}
