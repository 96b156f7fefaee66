// Package mds reads a FIDO Metadata Service v3 BLOB (FIDO MDS 3.1 §3.1.7)
// that a city downloaded itself: a JWS in compact form whose x5c header
// carries the signing certificate and its intermediates. Verify checks it
// completely and offline, and returns the entries Keyhall keeps about each
// authenticator model (by AAGUID): its name, its certification level, and
// whether FIDO reported it compromised.
//
//	blob ─ split header.payload.signature (base64url)
//	     ─ header: alg RS256 or ES256, x5c present (x5u refused: nothing is fetched)
//	     ─ x5c[0] valid at now, for mds.fidoalliance.org, chained through x5c[1:]
//	       to one of Roots (GlobalSign Root R46)
//	     ─ every certificate of the chain below the root against the CRLs given:
//	       a CRL must be signed by the certificate's issuer and current
//	     ─ the signature over header.payload with x5c[0]'s key
//	     ─ payload: no, nextUpdate not past, entries (those with an aaguid)
//
// It never opens a network connection. Revocation is checked only against
// the CRLs the caller passes (Options.CRLs); the certificates no CRL covers
// are named in Blob.Unchecked, so that the caller can say so. The storing
// and the "no rollback" rule (a blob's no not lower than the one stored)
// are the caller's: authn.KeyModelStore.ImportKeyModels.
package mds
