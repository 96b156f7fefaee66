package authn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
	var c keyCeremony
	if err := json.Unmarshal(p.Ceremony, &c); err != nil {
		return keyResult{}, fmt.Errorf("decode ceremony: %w", err)
	}
	sd := c.Session
	// WebAuthn L3 §7.2 steps 1–3: parse the response.
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return keyResult{}, &SignInError{Reason: ReasonKeyRefused, Err: fmt.Errorf("parse assertion: %w", err)}
	}
	// Steps 6–8: the key must belong to the person being signed in, named
	// by the username or, for a passkey, by the user handle (her id); its
	// record is looked up among hers before any signature is checked.
	discoverable := len(sd.UserID) == 0
	ownerID := p.UserID
	if discoverable {
		// Keyhall's user handles are ids (NewID); anything else, even
		// nothing, names nobody and goes to no query.
		ownerID = string(parsed.Response.UserHandle)
		if !isID(ownerID) {
			return keyResult{}, refuse(ReasonKeyRefused, "passkey %x sent user handle %q, not an id", parsed.RawID, parsed.Response.UserHandle)
		}
	}
	// The person and every key of hers, cloned ones too: go-webauthn wants
	// the person to own each id it offered. For an unknown username ("")
	// the same read finds no one, so the refusal takes as long as for a
	// known one.
	rec, err := s.store.GetSignInRecord(ctx, ownerID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return keyResult{}, fmt.Errorf("load key owner: %w", err)
	}
	user := rec.User
	creds := slices.DeleteFunc(rec.Credentials, func(c Credential) bool { return c.Kind != KindWebAuthn })
	i := slices.IndexFunc(creds, func(c Credential) bool { return bytes.Equal(c.WebAuthnID, parsed.RawID) })
	if i < 0 {
		return keyResult{}, refuse(ReasonKeyRefused, "key %x is not one of user %q's", parsed.RawID, ownerID)
	}
	cred := creds[i]
	if cred.Cloned {
		return keyResult{}, refuse(ReasonKeyCloned, "key %s is flagged as cloned", cred.ID)
	}
	// Any of her keys that is not flagged may answer (keyCeremony): the
	// ones she has now, whatever she had when the ceremony opened.
	wu := &waUser{id: []byte(user.ID), name: user.Username}
	for _, c := range creds {
		wu.credentials = append(wu.credentials, toWebAuthn(c))
		if !c.Cloned {
			sd.AllowedCredentialIDs = append(sd.AllowedCredentialIDs, c.WebAuthnID)
		}
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
	return keyResult{user: user, groups: rec.Groups, cred: cred, uv: flags.HasUserVerified(),
		sign: parsed.Response.AuthenticatorData.Counter}, nil
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
