package enroll

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/keyhall/keyhall/authn"
)

// waUser presents a person to go-webauthn. Her user handle is []byte(ID),
// as sign-in expects.
type waUser struct {
	u     authn.User
	creds []authn.Credential
}

func (w waUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string                       { return w.u.Username }
func (w waUser) WebAuthnDisplayName() string                { return cmpOr(w.u.DisplayName, w.u.Username) }
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return nil }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exclusions lists the person's keys, so that a key registered already is
// not registered twice (WebAuthn L3 §5.4 excludeCredentials). A key with
// the backup-eligible flag clear whose attestation was not verified (every
// key registered before schema 8) is left out: registered again, a
// YubiKey becomes a hardware key (phrh), after which she removes the old
// entry.
func (w waUser) exclusions() []protocol.CredentialDescriptor {
	var out []protocol.CredentialDescriptor
	for _, c := range w.creds {
		if c.Kind == authn.KindWebAuthn && (c.Attested || c.BackupEligible) {
			out = append(out, protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: c.WebAuthnID})
		}
	}
	return out
}

// BeginKey opens a key registration (WebAuthn L3 §7.1) for the enrollment
// with id: it returns the options for navigator.credentials.create() as
// JSON ({"publicKey": …}, as go-webauthn marshals a CredentialCreation)
// and a new enrollment id. It asks for direct attestation, a discoverable
// credential where the key can, user verification as the person's rules
// want, and only ES256, EdDSA and RS256 keys. The ceremony must finish
// within StepTTL, from the same browser (the id is single use). The
// enrollment must be one that may add a key (see step).
func (s *Service) BeginKey(ctx context.Context, id []byte) ([]byte, Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeKey)
	if err != nil {
		return nil, pr, err
	}
	user, rules, creds, err := s.keyOwner(ctx, p.UserID)
	if err != nil {
		return nil, Progress{}, err
	}
	uv := protocol.VerificationPreferred
	if rules.RequireUV() {
		uv = protocol.VerificationRequired
	}
	w := waUser{u: user, creds: creds}
	creation, session, err := s.wa.BeginRegistration(w,
		webauthn.WithConveyancePreference(protocol.PreferDirectAttestation),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: uv}),
		webauthn.WithExclusions(w.exclusions()),
		webauthn.WithCredentialParameters([]protocol.CredentialParameter{
			{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
			{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA},
			{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
		}))
	if err != nil {
		return nil, Progress{}, fmt.Errorf("begin key registration: %w", err)
	}
	options, err := json.Marshal(creation)
	if err != nil {
		return nil, Progress{}, fmt.Errorf("begin key registration: %w", err)
	}
	if p.Ceremony, err = json.Marshal(session); err != nil {
		return nil, Progress{}, fmt.Errorf("begin key registration: %w", err)
	}
	pr, err = s.put(ctx, p, StepTTL, time.Time{})
	return options, pr, err
}

// keyOwner returns the person registering a key, the rules her key must
// meet and the keys she has. A person without a password Keyhall can check
// (a local person who has none, or anyone from a directory that is not
// configured) can later sign in with the key alone only if the key verifies
// her, so for her the key must do so (PIN or fingerprint).
func (s *Service) keyOwner(ctx context.Context, userID string) (authn.User, Rules, []authn.Credential, error) {
	u, rules, err := s.person(ctx, userID)
	if err != nil {
		return authn.User{}, Rules{}, nil, err
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, userID)
	if err != nil {
		return authn.User{}, Rules{}, nil, fmt.Errorf("list credentials of %s: %w", u.Username, err)
	}
	pw, err := s.PasswordState(ctx, u)
	if err != nil {
		return authn.User{}, Rules{}, nil, err
	}
	if !pw.Has && !rules.RequireUV() {
		rules.Groups = append(rules.Groups, GroupRule{KeyPolicy: KeyPolicy{RequireUV: true, AllowTOTP: true, TOTPAlone: true,
			NeedDE: "einen Schlüssel mit PIN oder Fingerabdruck (Sie haben kein Passwort)",
			NeedEN: "a key with a PIN or fingerprint (you have no password)"}})
	}
	return u, rules, creds, nil
}

// NewKey is a key just registered.
type NewKey struct {
	Credential authn.Credential
	Model      string // e.g. "YubiKey 5 NFC / 5C NFC (Firmware 5.7)"; "" when unknown
}

// FinishKey verifies the browser's answer (credential.toJSON() of
// navigator.credentials.create()) and stores the key: WebAuthn L3 §7.1
// steps 5–21 by go-webauthn, steps 22–25 and the group policy by CheckKey,
// step 26 (a credential id not registered yet) by the store's unique
// index. The first factor of an enrollment consumes the invitation in the
// same transaction, so a replayed link cannot add a second key. A refused
// key leaves the enrollment open under a new id (Progress.ID). The
// enrollment is checked again as at BeginKey (see step): a session ended
// since stores nothing.
func (s *Service) FinishKey(ctx context.Context, id, response []byte, nickname string) (NewKey, Progress, error) {
	p, pr, err := s.step(ctx, id, authn.ScopeKey)
	if err != nil {
		return NewKey{}, pr, err
	}
	if p.Ceremony == nil {
		pr, err := s.retry(ctx, p, refuseMsg(ReasonExpired, msgStepExpired, errors.New("no key registration open")))
		return NewKey{}, pr, err
	}
	if nickname, err = optionalNickname(nickname); err != nil {
		pr, err := s.retry(ctx, p, err)
		return NewKey{}, pr, err
	}
	k, c, refusal, err := s.verifyKey(ctx, p, response)
	if err != nil {
		return NewKey{}, Progress{}, err
	}
	if refusal != nil {
		pr, err := s.retry(ctx, p, refusal)
		return NewKey{}, pr, err
	}
	c.Nickname = cmpOr(nickname, cmpOr(modelNickname(k.Model), "Sicherheitsschlüssel"))
	ev := s.credentialEvent(p, c, map[string]string{"model": k.Model, "aaguid": k.AAGUID.String(),
		"attestation": k.Format, "attested": strconv.FormatBool(c.Attested), "webauthn_id": hex.EncodeToString(c.WebAuthnID)})
	pr, err = s.storeFactor(ctx, p, c, ev)
	return NewKey{Credential: c, Model: k.Model}, pr, err
}

// modelNickname makes a model's name (from the MDS blob, written by its
// maker) a nickname CheckNickname takes: without control and format
// characters or line separators, at most MaxNicknameLength characters.
func modelNickname(model string) string {
	model = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return -1
		}
		return r
	}, model))
	if r := []rune(model); len(r) > MaxNicknameLength {
		model = strings.TrimSpace(string(r[:MaxNicknameLength]))
	}
	return model
}

// verifyKey checks a registration response against the ceremony and the
// person's rules. A refusal is returned as refusal; err is for storage.
func (s *Service) verifyKey(ctx context.Context, p authn.EnrollPending, response []byte) (KeyInfo, authn.Credential, *Error, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(p.Ceremony, &session); err != nil {
		return KeyInfo{}, authn.Credential{}, nil, fmt.Errorf("read key ceremony: %w", err)
	}
	user, rules, _, err := s.keyOwner(ctx, p.UserID)
	if err != nil {
		return KeyInfo{}, authn.Credential{}, nil, err
	}
	pcc, err := parseResponse(response)
	if err != nil {
		return KeyInfo{}, authn.Credential{}, asError(err), nil
	}
	k, err := keyInfo(pcc.Response.AttestationObject)
	if err != nil {
		return k, authn.Credential{}, refuseMsg(ReasonInvalid, msgInvalid, err), nil
	}
	if err := s.modelOf(ctx, &k); err != nil {
		return k, authn.Credential{}, nil, err
	}
	k.Attested, _ = rules.attested(k, s.now())
	if err := rules.CheckKey(k, s.now()); err != nil {
		return k, authn.Credential{}, asError(err), nil
	}
	wc, err := s.wa.CreateCredential(waUser{u: user}, session, pcc)
	if err != nil {
		return k, authn.Credential{}, refuseMsg(ReasonInvalid, msgInvalid, describe(err)), nil
	}
	if _, err := s.cfg.Store.GetCredentialByWebAuthnID(ctx, wc.ID); err == nil {
		return k, authn.Credential{}, refuseMsg(ReasonDuplicate, msgDuplicate, authn.ErrAlreadyExists), nil
	} else if !errors.Is(err, authn.ErrNotFound) {
		return k, authn.Credential{}, nil, fmt.Errorf("look up credential id: %w", err)
	}
	c := credentialOf(p.UserID, wc, s.now())
	c.Attested, c.AttestationChain = rules.attested(k, s.now())
	k.Attested = c.Attested
	return k, c, nil, nil
}

// modelOf names k's model and its compromise from the imported MDS3 blob,
// where it knows the model (LoadModels), and gives k the attestation roots
// the blob lists for it: read with the model, in the same query.
func (s *Service) modelOf(ctx context.Context, k *KeyInfo) error {
	ms, err := LoadModels(ctx, s.cfg.Store, authn.Credential{Kind: authn.KindWebAuthn, AAGUID: k.AAGUID[:]})
	if err != nil {
		return err
	}
	k.Model, k.Compromise = ms.Name(k.AAGUID), ms.Compromise(k.AAGUID)
	if k.ModelRoots, err = ms.Roots(k.AAGUID); err != nil {
		return err
	}
	return nil
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return refuseMsg(ReasonInvalid, msgInvalid, err)
}

func credentialOf(userID string, wc *webauthn.Credential, now time.Time) authn.Credential {
	c := authn.Credential{
		ID: authn.NewID(), UserID: userID, Kind: authn.KindWebAuthn, CreatedAt: now,
		WebAuthnID: wc.ID, PublicKey: wc.PublicKey, SignCount: wc.Authenticator.SignCount,
		AAGUID: wc.Authenticator.AAGUID, BackupEligible: wc.Flags.BackupEligible,
		AttestationFmt: wc.AttestationFormat,
	}
	var ts []string
	for _, t := range wc.Transport {
		ts = append(ts, string(t))
	}
	c.Transports = authn.CleanTransports(ts) // the browser's list, as sent: 5,000 entries were stored (#17)
	return c
}

func (s *Service) credentialEvent(p authn.EnrollPending, c authn.Credential, details map[string]string) authn.AuditEvent {
	details["credential_id"], details["kind"] = c.ID, string(c.Kind)
	if p.InvitationID != "" {
		details["invitation_id"] = p.InvitationID
	}
	return authn.AuditEvent{Time: s.now(), Actor: "user:" + p.UserID, Action: "credential.create",
		Subject: "user:" + p.UserID, Details: details}
}

// storeFactor stores c: the first factor of an enrollment together with
// consuming its invitation (which starts the enrollment's absolute end,
// InvitationEnrollTTL), later ones alone, and in the same transaction
// the enrollment's next step, so that a stored factor always leads on. On
// success the person is told by mail and the enrollment goes on under a
// new id; after it, Progress has the new id even with an error.
func (s *Service) storeFactor(ctx context.Context, p authn.EnrollPending, c authn.Credential, ev authn.AuditEvent) (Progress, error) {
	next := p
	next.InvitationID, next.Ceremony, next.TOTPSealed = "", nil, nil
	next.Factors++
	if p.InvitationID != "" {
		// The invitation is used up: from now on she could sign in, and
		// the enrollment ends InvitationEnrollTTL later, whatever its steps.
		next.EndsAt = s.now().Add(InvitationEnrollTTL)
	}
	id, next := s.nextStep(next, IdleTTL, time.Time{})
	err := s.cfg.Store.CompleteEnrollStep(ctx, authn.EnrollStep{UserID: p.UserID, InvitationID: p.InvitationID,
		At: s.now(), Credential: &c, Event: ev, Next: next})
	switch {
	case errors.Is(err, authn.ErrUsed):
		return Progress{}, refuseMsg(ReasonUsed, msgInvitationUsed, err)
	case errors.Is(err, authn.ErrExpired):
		return Progress{}, refuseMsg(ReasonExpired, msgInvitationExpired, err)
	case errors.Is(err, authn.ErrAlreadyExists):
		return s.retry(ctx, p, refuseMsg(ReasonDuplicate, msgDuplicate, err))
	case err != nil:
		return s.keepOn(ctx, p, fmt.Errorf("store %s credential: %w", c.Kind, err))
	}
	pr, err := s.progress(ctx, id, next)
	if err == nil {
		s.factorAdded(ctx, pr.User, c)
	}
	return pr, err
}

// keepOn puts p back under a new id after a step that stored nothing failed
// with the storage error err, so that the person can try again where she
// was (a passing fault ends no enrollment), and returns err with the
// Progress, whose ID is nil if p could not be put back either.
func (s *Service) keepOn(ctx context.Context, p authn.EnrollPending, err error) (Progress, error) {
	pr, perr := s.retry(ctx, p, nil)
	if perr != nil {
		s.log.Warn("keep an enrollment open after a failed step", "user", p.UserID, "err", perr)
	}
	return pr, err
}

// factorAdded tells u that c was added: by mail with a freeze link, or,
// without an address or mail or when the mail fails, by a notice letter
// queued for the IT desk.
// LogMailer, without an SMTP server, delivers nothing: a letter goes.
func (s *Service) factorAdded(ctx context.Context, u authn.User, c authn.Credential) {
	if Delivers(s.cfg.Mailer) && u.Email != "" {
		link, lerr := s.freezeLink(ctx, u.ID)
		if lerr != nil {
			s.log.Warn("no freeze link for the notice of a new factor", "user", u.Username, "err", lerr)
		}
		if Notify(context.WithoutCancel(ctx), s.cfg.Mailer, s.log, s.cfg.Notices.FactorAdded(u, FactorLabel(c), c.CreatedAt, link)) == nil {
			return
		}
	}
	// The letter names the model or kind, not the nickname: whoever added
	// the factor chose that, and it must not speak on the city's paper.
	s.QueueNoticeLetter(ctx, u, authn.NoticeFactorAdded, FactorKind(c), c.CreatedAt)
}
