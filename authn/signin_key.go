package authn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// waUser is a person as go-webauthn sees her. Her user handle is
// []byte(User.ID).
type waUser struct {
	id          []byte
	name        string
	credentials []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return u.id }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.name }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

// toWebAuthn is the credential record of WebAuthn L3 §4 for c.
func toWebAuthn(c Credential) webauthn.Credential {
	tr := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		tr[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: c.WebAuthnID, PublicKey: c.PublicKey, AttestationFormat: c.AttestationFmt, Transport: tr,
		Flags:         webauthn.CredentialFlags{UserPresent: true, BackupEligible: c.BackupEligible},
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}

// keyUser is the person of a pending sign-in with the keys she may use
// (cloned ones left out of allowCredentials, kept for the lookup), or, for
// an unknown username or a person without keys, a stand-in with 1–2
// deterministic fake credential ids (WebAuthn L3 §14.6.2).
func (s *SignIn) keyUser(p Pending, creds []Credential) *waUser {
	u := &waUser{id: []byte(p.UserID), name: p.Username}
	for _, c := range creds {
		if c.Kind == KindWebAuthn && !c.Cloned {
			u.credentials = append(u.credentials, toWebAuthn(c))
		}
	}
	if len(u.credentials) == 0 {
		u.id = []byte("unknown")
		for _, id := range fakeCredentialIDs(s.fakeKey, p.Username) {
			u.credentials = append(u.credentials, webauthn.Credential{
				ID: id, Transport: []protocol.AuthenticatorTransport{protocol.USB, protocol.NFC},
			})
		}
	}
	return u
}

// fakeCredentialIDs derives 1 or 2 credential ids from username, always the
// same for the same name, so that asking twice for an unknown name gives the
// same answer (WebAuthn L3 §14.6.2 "username enumeration"). Each is
// HMAC-SHA256(key, username ‖ i), truncated to 16 or 32 bytes (lengths
// authenticators commonly use).
func fakeCredentialIDs(key []byte, username string) [][]byte {
	mac := func(i byte) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(username))
		h.Write([]byte{0, i})
		sum := h.Sum(nil)
		if sum[1]&1 == 0 {
			return sum[:16]
		}
		return sum
	}
	first := mac(1)
	if first[0]&1 == 0 {
		return [][]byte{first}
	}
	return [][]byte{first, mac(2)}
}

// BeginKey opens a WebAuthn assertion for the pending sign-in: it returns
// the options JSON (protocol.CredentialAssertion, as go-webauthn marshals
// it) and the new Progress (new pending id). The challenge is random
// (WebAuthn L3 §13.4.3) and kept, single use, in the pending sign-in. For an
// unknown username, allowCredentials holds deterministic fake ids
// (HMAC(FakeIDKey, username)), WebAuthn L3 §14.6.2. User verification is
// "preferred" for everyone, so the options do not reveal a group's policy;
// FinishKey enforces it.
func (s *SignIn) BeginKey(ctx context.Context, pendingID []byte) ([]byte, Progress, error) {
	p, err := s.peekFor(ctx, pendingID, StepKey)
	if err != nil {
		return nil, Progress{}, err
	}
	creds, err := s.store.ListCredentials(ctx, p.UserID)
	if err != nil {
		return nil, Progress{}, fmt.Errorf("begin key sign-in: %w", err)
	}
	assertion, sd, err := s.wa.BeginLogin(s.keyUser(p, creds),
		webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, Progress{}, fmt.Errorf("begin key sign-in: %w", err)
	}
	return s.putCeremony(ctx, p, assertion, sd, creds, pendingID)
}

// BeginPasskey opens a discoverable assertion with user verification
// required (no username): WebAuthn L3 §5.1.4 with an empty allowCredentials.
func (s *SignIn) BeginPasskey(ctx context.Context, returnTo string, c ClientInfo) ([]byte, Progress, error) {
	assertion, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, Progress{}, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return s.putCeremony(ctx, Pending{Next: StepKey, ReturnTo: returnTo}, assertion, sd, []Credential{}, nil)
}

// putCeremony stores p with the ceremony sd under a new id, in place of
// the pending sign-in with id old when old is not nil.
func (s *SignIn) putCeremony(ctx context.Context, p Pending, assertion *protocol.CredentialAssertion, sd *webauthn.SessionData, creds []Credential, old []byte) ([]byte, Progress, error) {
	options, err := json.Marshal(assertion)
	if err != nil {
		return nil, Progress{}, fmt.Errorf("encode assertion options: %w", err)
	}
	if p.Ceremony, err = json.Marshal(sd); err != nil {
		return nil, Progress{}, fmt.Errorf("encode ceremony: %w", err)
	}
	p.Next = StepKey
	alt := alternatives{}
	if p.UserID == "" && p.Username == "" {
		alt = alternatives{known: true} // passkey: nobody known yet
	} else if alt, err = s.alternatives(ctx, p.UserID, creds); err != nil {
		return nil, Progress{}, fmt.Errorf("load factors: %w", err)
	}
	var prog Progress
	if old == nil {
		prog, err = s.put(ctx, p, alt)
	} else {
		prog, err = s.replace(ctx, old, p, alt)
	}
	if err != nil {
		return nil, Progress{}, err
	}
	return options, prog, nil
}

// keyResult is a verified assertion.
type keyResult struct {
	user User
	cred Credential
	uv   bool   // the authenticator verified the person (UV flag)
	sign uint32 // the assertion's signature counter
}

// FinishKey verifies the browser's assertion (the JSON body of
// navigator.credentials.get()'s result, credential.toJSON()) against the
// pending ceremony, following WebAuthn L3 §7.2: go-webauthn checks steps
// 5–21 (challenge, origin, RP ID hash, flags, signature); this adds what it
// leaves to the relying party: the key belongs to the person signing in
// (steps 6–7), its backup-eligible flag is the one registered, the sign
// count moves forward (step 22: otherwise it is flagged as cloned and
// audited), user verification where policy asks for it, the person's
// status and her groups' level.
func (s *SignIn) FinishKey(ctx context.Context, pendingID, response []byte, c ClientInfo) (Progress, error) {
	p, err := s.takeFor(ctx, pendingID, StepKey)
	if err != nil {
		return Progress{}, err
	}
	res, err := s.verifyAssertion(ctx, p, response)
	if err != nil {
		return s.failStep(ctx, p, err)
	}
	if err := s.recordKeyUse(ctx, res, c); err != nil {
		return s.failStep(ctx, p, err)
	}
	if res.user.Status != StatusActive {
		return s.retry(ctx, p, refuse(ReasonDisabled, "user %s is %s", res.user.ID, res.user.Status))
	}
	pol, err := s.policyFor(ctx, res.user.ID)
	if err != nil {
		return Progress{}, fmt.Errorf("finish key sign-in: %w", err)
	}
	factor := "hwk" // WebAuthn L3 §6.1.3: BE clear, the key cannot be copied
	if res.cred.BackupEligible {
		factor = "swk"
	}
	if _, level := amrACR([]string{factor}); !level.Meets(pol.level) {
		return s.retry(ctx, p, refuse(ReasonPolicy, "a %s key gives %s, policy needs %s", factor, level, pol.level))
	}
	if pol.uv && !res.uv {
		return s.retry(ctx, p, refuse(ReasonUVRequired, "key %s did not verify the person", res.cred.ID))
	}
	p.UserID, p.Username, p.AMR, p.Ceremony = res.user.ID, res.user.Username, []string{factor}, nil
	if res.uv {
		p.AMR = append(p.AMR, "user")
		return s.complete(ctx, p, res.user, c)
	}
	p.Next = StepPassword
	return s.put(ctx, p, alternatives{known: true})
}

// failStep puts p back for another try when err is a refusal; other
// errors (storage) are returned as they are.
func (s *SignIn) failStep(ctx context.Context, p Pending, err error) (Progress, error) {
	var se *SignInError
	if errors.As(err, &se) {
		return s.retry(ctx, p, se)
	}
	return Progress{}, err
}

// recordKeyUse stores the sign count (WebAuthn L3 §7.2 step 22). A count
// that does not move forward, here or in the store's conditional update
// (a race with another process), marks the key as possibly cloned.
func (s *SignIn) recordKeyUse(ctx context.Context, res keyResult, c ClientInfo) error {
	now := s.now()
	forward := res.sign > res.cred.SignCount || (res.sign == 0 && res.cred.SignCount == 0)
	if forward {
		err := s.store.RecordKeyUse(ctx, res.cred.ID, res.sign, now)
		if !errors.Is(err, ErrNotForward) {
			if err != nil {
				return fmt.Errorf("record key use: %w", err)
			}
			return nil
		}
	}
	ev := AuditEvent{
		Time: now, Actor: "user:" + res.user.ID, Action: "credential.cloned", Subject: "user:" + res.user.ID,
		ClientAddr: c.Addr, Details: map[string]string{
			"credential": res.cred.ID, "stored_count": fmt.Sprint(res.cred.SignCount), "count": fmt.Sprint(res.sign),
		},
	}
	if err := s.store.FlagCloned(ctx, res.cred.ID, ev); err != nil {
		return fmt.Errorf("flag key as cloned: %w", err)
	}
	s.log.Warn("security key sign count went backwards: flagged as cloned",
		"user", res.user.ID, "credential", res.cred.ID, "stored", res.cred.SignCount, "got", res.sign)
	return refuse(ReasonKeyCloned, "key %s: sign count %d after %d", res.cred.ID, res.sign, res.cred.SignCount)
}
