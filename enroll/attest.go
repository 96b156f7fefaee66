package enroll

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
)

// Algorithms admitted for a credential public key (COSE, RFC 9053): ES256,
// EdDSA and RS256, the ones every current security key and platform offers.
var algorithms = map[int64]string{
	int64(webauthncose.AlgES256): "ES256",
	int64(webauthncose.AlgEdDSA): "EdDSA",
	int64(webauthncose.AlgRS256): "RS256",
}

// oidFIDOAAGUID is the certificate extension id-fido-gen-ce-aaguid
// (WebAuthn L3 §8.2.1): the AAGUID of the model the certificate attests.
var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// KeyInfo is what a registration response says about a new key.
type KeyInfo struct {
	Format string    // attestation statement format: "packed", "fido-u2f", "none", …
	AAGUID uuid.UUID // the model, from authenticator data (zero for fido-u2f and many "none")
	Model  string    // name of the model, "" when unknown
	// Compromise is what FIDO's Metadata Service reports against the
	// model (authn.KeyModel.Compromise: REVOKED, …), "" when nothing or
	// no blob was imported. Registration fills it in (Service.modelOf).
	Compromise     string
	CredentialID   []byte
	PublicKey      []byte // COSE key
	Algorithm      int64  // COSE algorithm of PublicKey
	BackupEligible bool   // BE flag: a synced passkey
	UserVerified   bool   // UV flag
	// Chain is the attestation certificate chain (attStmt x5c), leaf first;
	// empty for "none" and for self attestation.
	Chain []*x509.Certificate
	// ModelRoots are the attestation roots the imported MDS3 blob lists
	// for AAGUID (authn.KeyModel.Roots): a chain to one of them proves
	// this model, and no other (GroupRule.modelProven). Registration
	// fills them in (Service.modelOf); nil without a blob.
	ModelRoots []*x509.Certificate
	// Attested: Chain ends in a trusted root (Yubico's shipped ones or a
	// group's), so the key will sign in as a hardware key (amr hwk, acr
	// phrh). Whether its AAGUID, hence Model and Compromise, is the
	// maker's word and not only the key's is GroupRule.modelProven's to
	// say, for each group. Set before the policy is checked (the
	// attestation signature is go-webauthn's to check, before the key is
	// stored).
	Attested bool
}

// keyInfo reads a parsed attestation object (WebAuthn L3 §6.5.4).
func keyInfo(ao protocol.AttestationObject) (KeyInfo, error) {
	ad := ao.AuthData
	k := KeyInfo{
		Format:         ao.Format,
		CredentialID:   ad.AttData.CredentialID,
		PublicKey:      ad.AttData.CredentialPublicKey,
		BackupEligible: ad.Flags.HasBackupEligible(),
		UserVerified:   ad.Flags.HasUserVerified(),
	}
	if len(ad.AttData.AAGUID) == 16 {
		k.AAGUID = uuid.UUID(ad.AttData.AAGUID)
		k.Model = ModelName(k.AAGUID)
	}
	var pk webauthncose.PublicKeyData
	if err := webauthncbor.Unmarshal(k.PublicKey, &pk); err != nil {
		return KeyInfo{}, fmt.Errorf("read credential public key: %w", err)
	}
	k.Algorithm = pk.Algorithm
	x5c, _ := ao.AttStatement["x5c"].([]any)
	for i, raw := range x5c {
		der, ok := raw.([]byte)
		if !ok {
			return KeyInfo{}, fmt.Errorf("read attestation certificate %d: not a byte string", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return KeyInfo{}, fmt.Errorf("read attestation certificate %d: %w", i, err)
		}
		k.Chain = append(k.Chain, c)
	}
	if k.Format == string(protocol.AttestationFormatFIDOUniversalSecondFactor) && len(k.Chain) > 0 {
		// fido-u2f carries a zero AAGUID (WebAuthn L3 §8.6); the model is
		// named by the certificate's extension, if at all.
		if v, ok := certAAGUID(k.Chain[0]); ok {
			k.AAGUID, k.Model = v, ModelName(v)
		}
	}
	return k, nil
}

// CheckResponse verifies the attestation of a registration response (the
// JSON of navigator.credentials.create()'s result) against rules at now,
// without a ceremony: the attestation signature (WebAuthn L3 §7.1 step 21,
// §8.2 packed, §8.6 fido-u2f) and CheckKey. It does not check challenge or
// origin; registration does that. For tests with recorded responses and for
// IT looking at a key. It reads no store, so knows no roots of an imported
// MDS blob (KeyInfo.ModelRoots): a model only those prove is unproven here.
func CheckResponse(response []byte, rules Rules, now time.Time) (KeyInfo, error) {
	pcc, err := parseResponse(response)
	if err != nil {
		return KeyInfo{}, err
	}
	k, err := keyInfo(pcc.Response.AttestationObject)
	if err != nil {
		return KeyInfo{}, refuseMsg(ReasonInvalid, msgInvalid, err)
	}
	k.Attested, _ = rules.attested(k, now)
	if err := rules.CheckKey(k, now); err != nil {
		return k, err
	}
	hash := sha256.Sum256(pcc.Raw.AttestationResponse.ClientDataJSON)
	ao := pcc.Response.AttestationObject
	if err := ao.VerifyAttestation(hash[:], nil, protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err != nil {
		k.Attested = false
		return k, refuseMsg(ReasonInvalid, msgInvalid, describe(err))
	}
	return k, nil
}

// attested reports whether k is a hardware key (authn.Credential.Attested)
// and returns its chain to store: whether its chain ends in one of the
// roots of the policy the rules come from (Policy.TrustedRoots), not only
// in the person's groups' roots. Registration and CheckResponse both ask
// here, so IT's look at a key gives the answer registration stored. Rules
// made without Policy.For count as a policy of their own groups.
func (r Rules) attested(k KeyInfo, now time.Time) (bool, []byte) {
	roots := r.roots
	if roots == nil {
		p := Policy{Groups: map[string]KeyPolicy{}}
		for i, g := range r.Groups {
			p.Groups[fmt.Sprint(i)] = g.KeyPolicy
		}
		roots = p.TrustedRoots()
	}
	return attestation(k, roots, now)
}

// parseResponse parses a registration response (WebAuthn L3 §7.1 steps
// 5–12 are go-webauthn's). A credential id over 1023 bytes (step 25) is
// named as such: go-webauthn's parser refuses it without saying why.
func parseResponse(response []byte) (*protocol.ParsedCredentialCreationData, error) {
	var raw struct {
		RawID protocol.URLEncodedBase64 `json:"rawId"`
	}
	if json.Unmarshal(response, &raw) == nil && len(raw.RawID) > authn.MaxWebAuthnIDLength {
		return nil, refuseMsg(ReasonIDTooLong, msgIDTooLong, fmt.Errorf("credential id of %d bytes", len(raw.RawID)))
	}
	pcc, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, refuseMsg(ReasonInvalid, msgInvalid, describe(err))
	}
	return pcc, nil
}

// describe keeps go-webauthn's details, which its Error() leaves out.
func describe(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && (pe.DevInfo != "" || pe.Details != "") {
		return fmt.Errorf("%w (%s; %s)", err, pe.Details, pe.DevInfo)
	}
	return err
}

// CheckKey applies the rules to a key at now: WebAuthn L3 §7.1 steps 22–24
// (trust anchors and trustworthiness of the attestation), step 25 (a
// credential id of at most 1023 bytes), the algorithm, and each group's
// model list, BE and UV requirements. The first refusal is returned as an
// *Error naming the group and what it needs.
func (r Rules) CheckKey(k KeyInfo, now time.Time) error {
	if len(k.CredentialID) > authn.MaxWebAuthnIDLength {
		return refuseMsg(ReasonIDTooLong, msgIDTooLong, fmt.Errorf("credential id of %d bytes", len(k.CredentialID)))
	}
	if _, ok := algorithms[k.Algorithm]; !ok {
		return refuseMsg(ReasonAlgorithm, msgAlgorithm, fmt.Errorf("COSE algorithm %d", k.Algorithm))
	}
	if err := checkCertAAGUID(k); err != nil {
		return refuse(ReasonModel, msgInvalid[0], msgInvalid[1], err)
	}
	for _, g := range r.Groups {
		if reason, cause := g.check(k, now); reason != "" {
			return groupRefusal(g, reason, k, cause)
		}
	}
	return nil
}

// check returns why g refuses k, or "".
func (g GroupRule) check(k KeyInfo, now time.Time) (Reason, error) {
	switch {
	case g.RefuseCompromised && !g.modelProven(k, now):
		// The AAGUID of a key whose attestation no trusted root vouches
		// for is whatever the key (or a browser, for "none": zero) says:
		// a key of a compromised model would pass by claiming another.
		return ReasonModelUnproven, fmt.Errorf("model %s not proven: attestation %q does not chain to a root FIDO's metadata lists "+
			"for the model, to one of the group's or to Yubico's, or its certificate does not name the model", k.AAGUID, k.Format)
	case g.RefuseCompromised && k.Compromise != "":
		return ReasonCompromised, fmt.Errorf("model %s: FIDO's metadata reports %s", k.AAGUID, k.Compromise)
	case g.RequireUV && !k.UserVerified:
		return ReasonUV, errors.New("user verification required, UV flag clear")
	case g.RefuseSynced && k.BackupEligible:
		return ReasonSynced, errors.New("backup-eligible credential refused")
	}
	if len(g.TrustedRoots) > 0 {
		if reason, err := verifyChain(k, g.TrustedRoots, now); reason != "" {
			return reason, err
		}
	}
	if len(g.AAGUIDs) > 0 && !slices.Contains(g.AAGUIDs, k.AAGUID) {
		return ReasonModel, fmt.Errorf("AAGUID %s not on the list", k.AAGUID)
	}
	return "", nil
}

// verifyChain checks that the attestation certificate chain (x5c) is valid
// at now and ends in one of roots (WebAuthn L3 §7.1 step 24; §8.2.1 packed,
// §8.6 fido-u2f). "none" and self attestation carry no chain and fail.
func verifyChain(k KeyInfo, roots []*x509.Certificate, now time.Time) (Reason, error) {
	if len(k.Chain) == 0 {
		return ReasonUntrusted, fmt.Errorf("attestation %q without a certificate chain", k.Format)
	}
	for _, c := range k.Chain {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return ReasonCertExpired, fmt.Errorf("attestation certificate %q valid %s to %s, not at %s",
				c.Subject.CommonName, c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly), now.Format(time.DateOnly))
		}
	}
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range k.Chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := k.Chain[0].Verify(opts); err != nil {
		return ReasonUntrusted, fmt.Errorf("verify attestation chain of %q: %w", k.Chain[0].Subject.CommonName, err)
	}
	return "", nil
}

// attestation tells whether k's attestation vouches for it as hardware of a
// known maker: a certificate chain (x5c) that ends in one of roots at now
// (WebAuthn L3 §7.1 step 24). "none" and self attestation never do. It
// returns the chain too, DER certificates one after the other, leaf
// first, as authn.Credential keeps it (nil without a chain). The
// attestation signature is go-webauthn's to check (step 21), before the
// key is stored.
func attestation(k KeyInfo, roots []*x509.Certificate, now time.Time) (attested bool, chain []byte) {
	for _, c := range k.Chain {
		chain = append(chain, c.Raw...)
	}
	if len(k.Chain) == 0 || checkCertAAGUID(k) != nil {
		return false, chain
	}
	reason, _ := verifyChain(k, roots, now)
	return reason == "", chain
}

// modelProven reports whether k's model (AAGUID) is vouched for, for
// the group g (WebAuthn L3 §7.1 steps 23–24, FIDO MDS 3.1): the
// attestation certificate itself names the model (id-fido-gen-ce-aaguid,
// which checkCertAAGUID has matched to the authenticator data), and its
// chain verifies at now to a trust anchor for that model: a root the
// imported MDS blob lists for this AAGUID (k.ModelRoots, never another
// model's), one of g's own TrustedRoots (not another group's: a root one
// group trusts says nothing to another), or Yubico's shipped roots (so
// that a YubiKey is proven without a blob). A certificate without the
// extension (fido-u2f, whose AAGUID is zero, or a packed one that leaves
// it out) proves only that the key is some hardware key of that maker,
// not which model.
func (g GroupRule) modelProven(k KeyInfo, now time.Time) bool {
	if k.AAGUID == (uuid.UUID{}) || len(k.Chain) == 0 {
		return false
	}
	if v, ok := certAAGUID(k.Chain[0]); !ok || v != k.AAGUID {
		return false
	}
	reason, _ := verifyChain(k, slices.Concat(k.ModelRoots, g.TrustedRoots, yubicoRoots()), now)
	return reason == ""
}

// yubicoRoots are YubicoRoots parsed once, for modelProven: read only.
var yubicoRoots = sync.OnceValue(YubicoRoots)

// checkCertAAGUID: when the attestation certificate names a model
// (extension 1.3.6.1.4.1.45724.1.1.4), it must be the one in the
// authenticator data (WebAuthn L3 §8.2.1 step 2).
func checkCertAAGUID(k KeyInfo) error {
	if len(k.Chain) == 0 || k.Format != string(protocol.AttestationFormatPacked) {
		return nil
	}
	v, ok := certAAGUID(k.Chain[0])
	if ok && v != k.AAGUID {
		return fmt.Errorf("attestation certificate is for AAGUID %s, authenticator data says %s", v, k.AAGUID)
	}
	return nil
}

// certAAGUID reads the extension id-fido-gen-ce-aaguid of c: an OCTET
// STRING of 16 bytes. ok is false when c has none; a malformed one reads
// as the zero UUID, which matches no model.
func certAAGUID(c *x509.Certificate) (v uuid.UUID, ok bool) {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidFIDOAAGUID) {
			continue
		}
		var b []byte
		if rest, err := asn1.Unmarshal(ext.Value, &b); err != nil || len(rest) > 0 || len(b) != 16 {
			return uuid.UUID{}, true
		}
		return uuid.UUID(b), true
	}
	return uuid.UUID{}, false
}

// groupRefusal words a group's refusal: who asks, what is needed, which key
// this was, and why it does not fit.
func groupRefusal(g GroupRule, r Reason, k KeyInfo, cause error) *Error {
	whoDE, whoEN := "Ihre Organisation verlangt", "Your organisation requires"
	if g.Group != "" {
		whoDE, whoEN = fmt.Sprintf("Ihre Gruppe „%s“ verlangt", g.Group), fmt.Sprintf("Your group “%s” requires", g.Group)
	}
	needDE, needEN := g.NeedDE, g.NeedEN
	if needDE == "" || needEN == "" {
		needDE, needEN = "einen zugelassenen Sicherheitsschlüssel", "an approved security key"
	}
	keyDE, keyEN := k.Model, k.Model
	if k.Model == "" {
		keyDE, keyEN = "unbekanntes Modell, AAGUID "+k.AAGUID.String(), "unknown model, AAGUID "+k.AAGUID.String()
	}
	hint := groupHints[r]
	e := refuse(r,
		fmt.Sprintf("%s %s. Dieser Schlüssel (%s) ist nicht zugelassen: %s", whoDE, needDE, keyDE, hint[0]),
		fmt.Sprintf("%s %s. This key (%s) is not admitted: %s", whoEN, needEN, keyEN, hint[1]),
		cause)
	e.Group = g.Group
	return e
}

var groupHints = map[Reason][2]string{
	ReasonUntrusted: {"Er weist sich nicht durch ein Zertifikat eines zugelassenen Herstellers aus.",
		"it does not prove with a certificate of an admitted maker where it comes from."},
	ReasonCertExpired: {"Sein Herstellerzertifikat ist abgelaufen oder noch nicht gültig.",
		"its maker's certificate has expired or is not valid yet."},
	ReasonModel: {"Sein Modell steht nicht auf der Liste der zugelassenen Schlüssel.",
		"its model is not on the list of admitted keys."},
	ReasonSynced: {"Er ist ein synchronisierter Passkey; der geheime Schlüssel muss auf dem Gerät bleiben. Verwenden Sie einen Hardware-Schlüssel.",
		"it is a synced passkey; the secret must stay on the device. Use a hardware key."},
	ReasonCompromised: {"Die FIDO Alliance hat dieses Modell zurückgezogen oder eine Sicherheitslücke darin gemeldet. Bitte verwenden Sie einen anderen Schlüssel; der IT-Service hilft Ihnen.",
		"the FIDO Alliance revoked this model or reported a security flaw in it. Please use another key; the IT service desk will help you."},
	ReasonModelUnproven: {"Ihr Browser hat das Modell Ihres Schlüssels nicht übermittelt, oder der Schlüssel weist sein Modell nicht durch ein Zertifikat eines zugelassenen Herstellers aus. Erlauben Sie beim Einrichten, Marke und Modell des Schlüssels zu sehen, und versuchen Sie es erneut; sonst verwenden Sie einen anderen Schlüssel, der IT-Service hilft Ihnen.",
		"your browser did not pass on your key's model, or the key does not prove its model with a certificate of an admitted maker. When setting it up, allow the site to see your key's make and model, and try again; else use another key, the IT service desk will help you."},
	ReasonUV: {"Er hat Sie nicht mit PIN oder Fingerabdruck geprüft. Richten Sie am Schlüssel eine PIN ein und versuchen Sie es erneut.",
		"it did not check you with a PIN or fingerprint. Set a PIN on the key and try again."},
}
