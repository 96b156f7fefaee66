package authn

import (
	"context"
	"slices"
	"time"
)

// KeyModel is what FIDO's Metadata Service (MDS3) says about one
// authenticator model, by its AAGUID: read from a blob the city imported
// (keyhall admin mds import), never fetched.
type KeyModel struct {
	AAGUID [16]byte
	Name   string // the metadata statement's description, e.g. "YubiKey 5 Series with NFC"
	// Status and StatusDate are the latest status report's (FIDO MDS 3.1
	// §3.1.4 AuthenticatorStatus), e.g. FIDO_CERTIFIED_L1.
	Status     string
	StatusDate time.Time
	// Compromise is one of CompromiseStatuses when any status report of
	// the model names it, else "".
	Compromise string
	// Certification is the highest FIDO certification level reported,
	// e.g. FIDO_CERTIFIED_L2; "" when none.
	Certification string
	// Roots are the attestation root certificates the blob lists for the
	// model (its metadata statement's attestationRootCertificates), DER
	// one after the other as Credential.AttestationChain; nil when none.
	// An attestation chaining to one of them proves the model (WebAuthn
	// L3 §7.1 step 24, trust anchors from FIDO MDS).
	Roots []byte
}

// CompromiseStatuses are the statuses that make a model one a group can
// refuse (KeyModel.Compromise): FIDO revoked it, its attestation key or a
// user key can be extracted remotely, or it can be made to skip user
// verification.
var CompromiseStatuses = []string{"REVOKED", "ATTESTATION_KEY_COMPROMISE", "USER_VERIFICATION_BYPASS", "USER_KEY_REMOTE_COMPROMISE"}

// CompromiseStatus reports whether status is one of CompromiseStatuses.
func CompromiseStatus(status string) bool { return slices.Contains(CompromiseStatuses, status) }

// KeyMetadata describes the imported MDS3 blob.
type KeyMetadata struct {
	No         int       // the blob's serial number
	NextUpdate time.Time // when FIDO publishes the next one
	ImportedAt time.Time
	Models     int // models stored
}

// HeldModel is a compromised model and how many keys of it are registered.
type HeldModel struct {
	KeyModel
	Keys, People int
	// Unverified counts the Keys whose model no attestation by a trusted
	// root proved at registration (Credential.Attested false): their
	// AAGUID is only the key's word, the model may be another.
	Unverified int
}

// GroupHolders is how many people of a group hold a key of a compromised
// model; Group "" counts the people in no group.
type GroupHolders struct {
	Group  string
	People int
}

// CompromisedKeys is where keys of compromised models (KeyModel.Compromise)
// are registered: by model and by group. Suspended keys are not counted.
type CompromisedKeys struct {
	Models []HeldModel    // by name
	Groups []GroupHolders // by group name
}

// KeyModelStore keeps the models of the imported MDS3 blob.
type KeyModelStore interface {
	// ImportKeyModels replaces the stored models with models and the
	// blob's facts with m, in one transaction with ev, unless a blob with
	// a higher number is stored: then it returns ErrNotForward and stores
	// nothing (no rollback to an older blob). The same number again is
	// taken (a blob imported twice).
	ImportKeyModels(ctx context.Context, m KeyMetadata, models []KeyModel, ev AuditEvent) error
	// KeyMetadata returns the imported blob's facts; ErrNotFound before
	// the first import.
	KeyMetadata(ctx context.Context) (KeyMetadata, error)
	// KeyModels returns the stored models among aaguids, by AAGUID, with
	// their roots; those the blob does not know are absent.
	KeyModels(ctx context.Context, aaguids [][16]byte) (map[[16]byte]KeyModel, error)
	// CompromisedKeys counts the registered keys of compromised models.
	CompromisedKeys(ctx context.Context) (CompromisedKeys, error)
}
