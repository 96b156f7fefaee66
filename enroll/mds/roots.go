package mds

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// entryRoots reads the attestation root certificates of entry i (FIDO MDS
// 3.1 §4 attestationRootCertificates: standard base64 DER): the trust
// anchors of model id (WebAuthn L3 §7.1 step 23, "obtain a list of
// acceptable trust anchors … from the FIDO Metadata Service"). A root that
// does not read as a certificate is left out and named among the
// problems; the entry's other roots are kept. A root expired at now is
// kept and named too: it proves no key registered from now on (the chain
// is verified at registration), but a key registered while it was valid
// is still proven by it.
func entryRoots(i int, name string, id uuid.UUID, encoded []string, now time.Time) (roots []*x509.Certificate, problems []string) {
	for j, s := range encoded {
		where := fmt.Sprintf("entry %d (%s, %q) attestation root %d", i, id, Printable(name), j+1)
		der, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "="))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: left out, not base64: %v", where, err))
			continue
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: left out, not a certificate: %s", where, Printable(err.Error())))
			continue
		}
		if now.After(c.NotAfter) || now.Before(c.NotBefore) {
			problems = append(problems, fmt.Sprintf("%s %q: valid %s to %s, not today: proves no key registered now", where,
				Printable(c.Subject.String()), c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly)))
		}
		roots = append(roots, c)
	}
	return roots, problems
}

// joinRoots appends to der (DER certificates one after the other, as
// authn.KeyModel.Roots) those of roots it lacks.
func joinRoots(der []byte, roots []*x509.Certificate) []byte {
	have, _ := x509.ParseCertificates(der)
	for _, r := range roots {
		if !slices.ContainsFunc(have, func(c *x509.Certificate) bool { return bytes.Equal(c.Raw, r.Raw) }) {
			have = append(have, r)
			der = append(der, r.Raw...)
		}
	}
	return der
}
