package mds

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
)

// SignerName is the name the signing certificate (x5c[0]) must be issued
// for: the Metadata Service's own (FIDO MDS 3.1 §3.1.7). Chaining to
// GlobalSign alone would admit any site GlobalSign issued a certificate to.
const SignerName = "mds.fidoalliance.org"

// MaxSize is the largest blob Verify reads (the real one is a few MB).
const MaxSize = 64 << 20

// Errors of Verify, for errors.Is; each is wrapped with the details.
var (
	ErrMalformed = errors.New("not an MDS3 blob")
	ErrSignature = errors.New("signature does not verify")
	ErrUntrusted = errors.New("certificate chain does not lead to the FIDO root")
	ErrExpired   = errors.New("certificate outside its validity")
	ErrRevoked   = errors.New("certificate revoked")
	ErrCRL       = errors.New("unusable certificate revocation list")
	ErrStale     = errors.New("blob past its nextUpdate")
)

//go:embed roots/*.pem
var rootFS embed.FS

// Roots are the trust anchors a blob must chain to: the roots FIDO names
// for the Metadata Service (roots/README.md), embedded in the binary.
// Tests replace it with a root of their own; nothing else may.
var Roots = shippedRoots()

// ShippedRoots returns the embedded roots, parsed afresh.
func ShippedRoots() []*x509.Certificate { return shippedRoots() }

func shippedRoots() []*x509.Certificate {
	var out []*x509.Certificate
	names, _ := fs.Glob(rootFS, "roots/*.pem")
	for _, n := range names {
		b, _ := rootFS.ReadFile(n)
		for {
			var block *pem.Block
			if block, b = pem.Decode(b); block == nil {
				break
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				panic(fmt.Sprintf("embedded MDS root %s: %v", n, err)) // tested: cannot happen in a built binary
			}
			out = append(out, c)
		}
	}
	return out
}

// Options are what Verify checks a blob against.
type Options struct {
	Now  time.Time
	CRLs []CRL // revocation lists the city downloaded with the blob
	// AllowStale takes a blob past its nextUpdate (Blob.Stale) instead of
	// refusing it: IT's choice when FIDO's next blob is late.
	AllowStale bool
}

// CRL is one certificate revocation list, DER or PEM ("X509 CRL"), and the
// name it is known by (its file), for messages.
type CRL struct {
	Name string
	Data []byte
}

// Blob is a verified MDS3 blob.
type Blob struct {
	No          int       // the blob's serial number ("no")
	NextUpdate  time.Time // when FIDO publishes the next one (a date, UTC)
	LegalHeader string
	Signer      string // subject of the signing certificate
	Root        string // subject of the root it chains to
	Entries     int    // entries in the blob, with or without an aaguid
	// Models are the entries with an AAGUID (FIDO2 authenticators), one
	// per AAGUID. U2F (attestationCertificateKeyIdentifiers) and UAF
	// (aaid) entries are counted in Entries only.
	Models []authn.KeyModel
	// Checked names each certificate of the chain (below the root) that a
	// CRL covered; Unchecked those no CRL given covered, each with the
	// addresses of its CRL (its CRL distribution points), to download.
	Checked, Unchecked []string
	// Stale: the blob is past its nextUpdate, taken with
	// Options.AllowStale.
	Stale bool
	// Roots counts the attestation roots stored with the models
	// (KeyModel.Roots); RootProblems names each root of an entry that
	// was left out (unreadable) or that proves no key from now on
	// (expired), by entry, model and position. A bad root costs only
	// itself: the entry's other roots and the other entries are kept.
	Roots        int
	RootProblems []string
}

// Verify checks blob as the package comment says and returns it. It
// refuses, with an error wrapping one of the Err… values: a malformed blob,
// a bad signature, a chain that does not end in Roots or whose signer is
// not SignerName, a certificate outside its validity at o.Now or revoked
// by one of o.CRLs, a CRL that is not the issuer's or is past its own
// nextUpdate or covers no certificate of the chain, and a blob whose
// nextUpdate is before o.Now's day (unless o.AllowStale).
func Verify(blob []byte, o Options) (Blob, error) {
	h, p, sig, input, err := split(blob)
	if err != nil {
		return Blob{}, err
	}
	chain, err := h.chain()
	if err != nil {
		return Blob{}, err
	}
	verified, err := verifyChain(chain, o.Now)
	if err != nil {
		return Blob{}, err
	}
	b := Blob{Signer: Printable(chain[0].Subject.String()), Root: Printable(verified[len(verified)-1].Subject.String())}
	if b.Checked, b.Unchecked, err = checkRevocation(verified, o); err != nil {
		return Blob{}, err
	}
	if err := checkSignature(h.Alg, chain[0], input, sig); err != nil {
		return Blob{}, err
	}
	if err := b.read(p, o.Now); err != nil {
		return Blob{}, err
	}
	if b.Stale = Stale(b.NextUpdate, o.Now); b.Stale && !o.AllowStale {
		return b, fmt.Errorf("%w: nextUpdate %s, today %s: download the current blob", ErrStale,
			b.NextUpdate.Format(time.DateOnly), o.Now.UTC().Format(time.DateOnly))
	}
	return b, nil
}

// day is t's date at midnight UTC: nextUpdate is a date, valid all day.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Stale reports whether a blob with nextUpdate is out of date at now.
func Stale(nextUpdate, now time.Time) bool { return day(now).After(nextUpdate) }

type header struct {
	Alg string   `json:"alg"`
	X5C []string `json:"x5c"`
	X5U string   `json:"x5u"`
}

// split reads the compact JWS (RFC 7515 §7.1): the header, the payload,
// the signature and the signing input.
func split(blob []byte) (header, []byte, []byte, []byte, error) {
	var h header
	blob = bytes.TrimSpace(blob)
	parts := bytes.Split(blob, []byte("."))
	if len(parts) != 3 {
		return h, nil, nil, nil, fmt.Errorf("%w: a JWT has 3 parts separated by dots, this has %d", ErrMalformed, len(parts))
	}
	var dec [3][]byte
	for i, part := range parts {
		var err error
		if dec[i], err = base64.RawURLEncoding.DecodeString(strings.TrimRight(string(part), "=")); err != nil {
			return h, nil, nil, nil, fmt.Errorf("%w: part %d: %v", ErrMalformed, i+1, err)
		}
	}
	if err := json.Unmarshal(dec[0], &h); err != nil {
		return h, nil, nil, nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	input := blob[:len(parts[0])+1+len(parts[1])]
	return h, dec[1], dec[2], input, nil
}

// chain parses x5c (RFC 7515 §4.1.6: standard base64 DER, signer first).
func (h header) chain() ([]*x509.Certificate, error) {
	if len(h.X5C) == 0 {
		if h.X5U != "" {
			return nil, fmt.Errorf("%w: the header names its certificates by URL (x5u), which Keyhall does not fetch", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: no certificate chain (x5c) in the header", ErrMalformed)
	}
	var out []*x509.Certificate
	for i, s := range h.X5C {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrMalformed, i, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrMalformed, i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// verifyChain verifies chain[0] for SignerName through chain[1:] to Roots
// at now, and returns the chain found, root last.
func verifyChain(chain []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	for _, c := range chain {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return nil, fmt.Errorf("%w: %q is valid %s to %s, not at %s", ErrExpired, c.Subject.String(),
				c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly), now.UTC().Format(time.DateOnly))
		}
	}
	// FIDO's signing certificate is a TLS server certificate: one GlobalSign
	// issued for another use (client auth, code signing) is refused.
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, r := range Roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := chain[0].Verify(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUntrusted, Printable(err.Error()))
	}
	// The name itself among the certificate's DNS names: not a wildcard
	// (*.fidoalliance.org), which VerifyHostname would take.
	if !slices.ContainsFunc(chain[0].DNSNames, func(n string) bool { return strings.EqualFold(n, SignerName) }) {
		return nil, fmt.Errorf("%w: the signing certificate %q is not for %s", ErrUntrusted, chain[0].Subject.String(), SignerName)
	}
	return chains[0], nil
}

// checkRevocation checks each certificate of chain below the root against
// the CRLs its issuer signed (RFC 5280 §6.3, without delta CRLs or
// distribution points: the city brings the lists).
func checkRevocation(chain []*x509.Certificate, o Options) (checked, unchecked []string, err error) {
	type list struct {
		name string
		rl   *x509.RevocationList
		used bool
	}
	var lists []*list
	for _, c := range o.CRLs {
		rls, err := parseCRLs(c.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrCRL, c.Name, err)
		}
		for _, rl := range rls {
			lists = append(lists, &list{name: c.Name, rl: rl})
		}
	}
	for i, c := range chain[:len(chain)-1] {
		issuer := chain[i+1]
		covered := false
		for _, l := range lists {
			if !bytes.Equal(l.rl.RawIssuer, c.RawIssuer) {
				continue
			}
			if err := l.rl.CheckSignatureFrom(issuer); err != nil {
				return nil, nil, fmt.Errorf("%w: %s names %q as its issuer but is not signed by it: %v", ErrCRL, l.name, issuer.Subject.String(), err)
			}
			if !l.rl.NextUpdate.IsZero() && o.Now.After(l.rl.NextUpdate) {
				return nil, nil, fmt.Errorf("%w: %s is out of date (next update %s): download it again", ErrCRL, l.name,
					l.rl.NextUpdate.UTC().Format(time.DateTime))
			}
			l.used, covered = true, true
			if slices.ContainsFunc(l.rl.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool {
				return e.SerialNumber.Cmp(c.SerialNumber) == 0
			}) {
				return nil, nil, fmt.Errorf("%w: %q (serial %s) is on %s", ErrRevoked, c.Subject.String(), serialHex(c.SerialNumber), l.name)
			}
		}
		if covered {
			checked = append(checked, Printable(c.Subject.String()))
		} else {
			u := Printable(c.Subject.String())
			if len(c.CRLDistributionPoints) > 0 {
				u += " (its CRL: " + Printable(strings.Join(c.CRLDistributionPoints, ", ")) + ")"
			}
			unchecked = append(unchecked, u)
		}
	}
	for _, l := range lists {
		if !l.used {
			return nil, nil, fmt.Errorf("%w: %s (issuer %q) is for no certificate of the blob's chain", ErrCRL, l.name, l.rl.Issuer.String())
		}
	}
	return checked, unchecked, nil
}

// Printable is s with every rune that is not graphic (control and format
// characters: ESC, BEL, U+202E, line separators) escaped as Go does
// (\x1b, \u202e): names from certificates are shown on IT's terminal,
// and before verification anyone may have written them.
func Printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsGraphic(r) && !unicode.Is(unicode.Cf, r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r) // '\x1b', '\u202e'
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

func serialHex(n *big.Int) string { return fmt.Sprintf("%X", n) }

// parseCRLs reads DER, or PEM blocks "X509 CRL".
func parseCRLs(b []byte) ([]*x509.RevocationList, error) {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		rl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, err
		}
		return []*x509.RevocationList{rl}, nil
	}
	var out []*x509.RevocationList
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
		}
		rl, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, rl)
	}
	if len(out) == 0 {
		return nil, errors.New("no CRL in the file")
	}
	return out, nil
}

// checkSignature verifies the JWS signature (RFC 7518 §3.3 RS256, §3.4
// ES256) with the signing certificate's key.
func checkSignature(alg string, signer *x509.Certificate, input, sig []byte) error {
	digest := sha256.Sum256(input)
	switch alg {
	case "RS256":
		pub, ok := signer.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: alg RS256 but the signing certificate's key is not RSA", ErrSignature)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			return fmt.Errorf("%w: %v", ErrSignature, err)
		}
	case "ES256":
		pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() || len(sig) != 64 {
			return fmt.Errorf("%w: alg ES256 needs a P-256 key and a 64-byte signature", ErrSignature)
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			return fmt.Errorf("%w: ES256", ErrSignature)
		}
	default:
		return fmt.Errorf("%w: algorithm %q (RS256 and ES256 are accepted)", ErrSignature, alg)
	}
	return nil
}

// The payload (FIDO MDS 3.1 §3.1.6 MetadataBLOBPayload, §3.1.1
// MetadataBLOBPayloadEntry, §3.1.3 StatusReport): only what Keyhall keeps.
type payload struct {
	LegalHeader string  `json:"legalHeader"`
	No          *int    `json:"no"`
	NextUpdate  string  `json:"nextUpdate"`
	Entries     []entry `json:"entries"`
}

type entry struct {
	AAGUID            string `json:"aaguid"`
	MetadataStatement struct {
		Description string `json:"description"`
		// AttestationRootCertificates are the model's trust anchors
		// (FIDO MDS 3.1 §4 metadata statement): standard base64 DER.
		AttestationRootCertificates []string `json:"attestationRootCertificates"`
	} `json:"metadataStatement"`
	StatusReports []struct {
		Status        string `json:"status"`
		EffectiveDate string `json:"effectiveDate"`
	} `json:"statusReports"`
}

// certRank orders the certification statuses (FIDO_CERTIFIED is the old
// name of level 1).
var certRank = map[string]int{
	"FIDO_CERTIFIED": 1, "FIDO_CERTIFIED_L1": 2, "FIDO_CERTIFIED_L1plus": 3, "FIDO_CERTIFIED_L2": 4,
	"FIDO_CERTIFIED_L2plus": 5, "FIDO_CERTIFIED_L3": 6, "FIDO_CERTIFIED_L3plus": 7,
}

// read fills b from the payload; now is for the roots' validity.
func (b *Blob) read(raw []byte, now time.Time) error {
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if p.No == nil || *p.No < 0 {
		return fmt.Errorf("%w: payload without a serial number (no)", ErrMalformed)
	}
	next, err := time.Parse(time.DateOnly, p.NextUpdate)
	if err != nil {
		return fmt.Errorf("%w: nextUpdate %q: %v", ErrMalformed, p.NextUpdate, err)
	}
	b.No, b.NextUpdate, b.LegalHeader, b.Entries = *p.No, next, p.LegalHeader, len(p.Entries)
	byID := map[[16]byte]int{}
	for i, e := range p.Entries {
		if e.AAGUID == "" {
			continue // a U2F or UAF entry
		}
		id, err := uuid.Parse(e.AAGUID)
		if err != nil || len(e.AAGUID) != 36 {
			return fmt.Errorf("%w: entry %d: aaguid %q", ErrMalformed, i, e.AAGUID)
		}
		m := model(id, e)
		roots, problems := entryRoots(i, m.Name, id, e.MetadataStatement.AttestationRootCertificates, now)
		b.RootProblems = append(b.RootProblems, problems...)
		if j, ok := byID[id]; ok { // the same model twice: keep what either says against it
			old := &b.Models[j]
			old.Roots = joinRoots(old.Roots, roots)
			old.Compromise = cmpOr(old.Compromise, m.Compromise)
			if certRank[m.Certification] > certRank[old.Certification] {
				old.Certification = m.Certification
			}
			continue
		}
		byID[id] = len(b.Models)
		m.Roots = joinRoots(nil, roots)
		b.Models = append(b.Models, m)
	}
	for _, m := range b.Models {
		if n, err := x509.ParseCertificates(m.Roots); err == nil {
			b.Roots += len(n)
		}
	}
	return nil
}

// model reads one entry: its latest status (by effective date, the later
// report where two share a date), the compromise any report names, and the
// highest certification level.
func model(id uuid.UUID, e entry) authn.KeyModel {
	m := authn.KeyModel{AAGUID: [16]byte(id), Name: clean(e.MetadataStatement.Description)}
	for _, r := range e.StatusReports {
		status := clean(r.Status)
		date, _ := time.Parse(time.DateOnly, r.EffectiveDate)
		if m.Status == "" || !date.Before(m.StatusDate) {
			m.Status, m.StatusDate = status, date
		}
		// Once compromised, always: a later report certifying the model
		// again is for the firmware versions it names, and Keyhall does not
		// know a key's firmware (docs/keys-metadata.md).
		if authn.CompromiseStatus(status) && m.Compromise == "" {
			m.Compromise = status
		}
		if certRank[status] > certRank[m.Certification] {
			m.Certification = status
		}
	}
	return m
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clean keeps a text from the blob printable and short: it is shown on
// pages (escaped) and at the terminal (where a control character could
// rewrite the screen), and becomes a key's nickname. Control and format
// characters (a bidi override U+202E turns what follows around) and line
// and paragraph separators go.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200])
	}
	return s
}
