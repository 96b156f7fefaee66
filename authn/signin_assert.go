package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// verifyAssertion checks an assertion against the ceremony of p and returns
// the key and person it proves. Refusals are *SignInError; other errors
// mean the storage failed.
func (s *SignIn) verifyAssertion(ctx context.Context, p Pending, response []byte) (keyResult, error) {
	if p.Ceremony == nil {
		return keyResult{}, refuse(ReasonKeyRefused, "no key ceremony open")
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(p.Ceremony, &sd); err != nil {
		return keyResult{}, fmt.Errorf("decode ceremony: %w", err)
	}
	// WebAuthn L3 §7.2 steps 1–3: parse the response.
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return keyResult{}, &SignInError{Reason: ReasonKeyRefused, Err: fmt.Errorf("parse assertion: %w", err)}
	}
	// Step 8 (credential record lookup), before any signature is checked.
	cred, err := s.store.GetCredentialByWebAuthnID(ctx, parsed.RawID)
	switch {
	case errors.Is(err, ErrNotFound):
		return keyResult{}, refuse(ReasonKeyRefused, "unknown key %x", parsed.RawID)
	case err != nil:
		return keyResult{}, fmt.Errorf("look up key: %w", err)
	}
	discoverable := len(sd.UserID) == 0
	// Steps 6–7: the key must belong to the person being signed in, named by
	// the username or, for a passkey, by the user handle.
	switch {
	case discoverable && string(parsed.Response.UserHandle) != cred.UserID:
		return keyResult{}, refuse(ReasonKeyRefused, "user handle %q does not own key %s", parsed.Response.UserHandle, cred.ID)
	case !discoverable && (p.UserID == "" || cred.UserID != p.UserID):
		return keyResult{}, refuse(ReasonKeyRefused, "key %s belongs to another person", cred.ID)
	case cred.Cloned:
		return keyResult{}, refuse(ReasonKeyCloned, "key %s is flagged as cloned", cred.ID)
	}
	user, wu, err := s.keyOwner(ctx, cred.UserID)
	if err != nil {
		return keyResult{}, err
	}
	// Steps 5 and 9–21 in go-webauthn: challenge, origin, RP ID hash, UP
	// (and UV when required), BE/BS consistency, signature.
	if discoverable {
		_, _, err = s.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return wu, nil }, sd, parsed)
	} else {
		_, err = s.wa.ValidateLogin(wu, sd, parsed)
	}
	if err != nil {
		return keyResult{}, &SignInError{Reason: ReasonKeyRefused, Err: fmt.Errorf("verify assertion: %w", protocolDetail(err))}
	}
	flags := parsed.Response.AuthenticatorData.Flags
	// WebAuthn L3 §6.1.3: the BE flag never changes for a credential.
	if flags.HasBackupEligible() != cred.BackupEligible {
		return keyResult{}, refuse(ReasonKeyRefused, "key %s: backup-eligible flag %t, registered %t", cred.ID, flags.HasBackupEligible(), cred.BackupEligible)
	}
	if discoverable && !flags.HasUserVerified() {
		return keyResult{}, refuse(ReasonUVRequired, "passkey %s did not verify the person", cred.ID)
	}
	return keyResult{user: user, cred: cred, uv: flags.HasUserVerified(), sign: parsed.Response.AuthenticatorData.Counter}, nil
}

// keyOwner loads a person and every security key of hers (cloned ones too:
// go-webauthn wants the person to own each id it offered).
func (s *SignIn) keyOwner(ctx context.Context, userID string) (User, *waUser, error) {
	user, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return User{}, nil, fmt.Errorf("load key owner: %w", err)
	}
	creds, err := s.store.ListCredentials(ctx, userID)
	if err != nil {
		return User{}, nil, fmt.Errorf("load keys: %w", err)
	}
	wu := &waUser{id: []byte(user.ID), name: user.Username}
	for _, c := range creds {
		if c.Kind == KindWebAuthn {
			wu.credentials = append(wu.credentials, toWebAuthn(c))
		}
	}
	return user, wu, nil
}

// protocolDetail adds go-webauthn's developer detail to its error, for the
// log.
func protocolDetail(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w (%s)", err, pe.DevInfo)
	}
	return err
}
