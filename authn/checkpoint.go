package authn

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Checkpoint is the audit chain's head at a moment, signed with the
// installation's ES256 key (the OIDC signing key, sealed under the key
// file's encryption key). Anyone who can write to the database can
// recompute the whole chain; nobody without the key file can sign a
// checkpoint. Checkpoints leave the database as log lines, so a chain that
// was rewritten no longer ends in a hash a logged checkpoint vouches for.
type Checkpoint struct {
	Seq   int64     // the last event it covers (0: the empty chain)
	Hash  [32]byte  // that event's chain hash
	Time  time.Time // when it was signed, to the microsecond
	KeyID string    // the signing key's id (its "kid" in the JWKS)
	Sig   []byte    // ASN.1 ECDSA signature over signedBytes
}

// checkpointPrefix starts a checkpoint's text form. The text form is one
// token without spaces or quotes, so it survives any log format (text,
// JSON) and can be copied from a log line as it is.
const checkpointPrefix = "keyhall-checkpoint.v1."

// maxCheckpointLine bounds what ParseCheckpoint reads.
const maxCheckpointLine = 64 << 10

// signedBytes is what the signature covers: a fixed label, then Seq, Hash,
// Time and KeyID, unambiguously.
func (c Checkpoint) signedBytes() []byte {
	b := []byte("keyhall audit checkpoint v1\x00")
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = append(b, c.Hash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UTC().UnixMicro()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.KeyID)))
	return append(b, c.KeyID...)
}

// SignCheckpoint returns the signed checkpoint of the chain's head (seq,
// hash) at at, signed by key (P-256) whose id is keyID.
func SignCheckpoint(key *ecdsa.PrivateKey, keyID string, seq int64, hash [32]byte, at time.Time) (Checkpoint, error) {
	c := Checkpoint{Seq: seq, Hash: hash, Time: at.UTC().Truncate(time.Microsecond), KeyID: keyID}
	if err := checkKeyID(keyID); err != nil {
		return Checkpoint{}, err
	}
	sum := sha256.Sum256(c.signedBytes())
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign audit checkpoint: %w", err)
	}
	c.Sig = sig
	return c, nil
}

// Verify reports whether c was signed by pub.
func (c Checkpoint) Verify(pub *ecdsa.PublicKey) error {
	sum := sha256.Sum256(c.signedBytes())
	if !ecdsa.VerifyASN1(pub, sum[:], c.Sig) {
		return errors.New("the checkpoint's signature does not verify with the installation's key")
	}
	return nil
}

// String is the checkpoint's text form:
// keyhall-checkpoint.v1.SEQ.HASH.MICROS.KID.SIG (hash in hex, signature in
// unpadded base64url).
func (c Checkpoint) String() string {
	return checkpointPrefix + strconv.FormatInt(c.Seq, 10) + "." + hex.EncodeToString(c.Hash[:]) + "." +
		strconv.FormatInt(c.Time.UnixMicro(), 10) + "." + c.KeyID + "." + base64.RawURLEncoding.EncodeToString(c.Sig)
}

// ParseCheckpoint finds a checkpoint's text form in line (a whole log line
// as the log collector keeps it, or just the token) and parses it. It does
// not verify the signature (Verify).
func ParseCheckpoint(line string) (Checkpoint, error) {
	if len(line) > maxCheckpointLine {
		return Checkpoint{}, fmt.Errorf("the line is longer than %d bytes", maxCheckpointLine)
	}
	i := strings.Index(line, checkpointPrefix)
	if i < 0 {
		return Checkpoint{}, fmt.Errorf("no checkpoint in the line (it starts with %q)", checkpointPrefix)
	}
	tok := line[i+len(checkpointPrefix):]
	if end := strings.IndexAny(tok, " \t\r\n\",;}'"); end >= 0 {
		tok = tok[:end]
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 5 {
		return Checkpoint{}, fmt.Errorf("a checkpoint has 5 parts after %q, this one %d", checkpointPrefix, len(parts))
	}
	var c Checkpoint
	var err error
	if c.Seq, err = strconv.ParseInt(parts[0], 10, 64); err != nil || c.Seq < 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint: event number %q is not a number ≥ 0", parts[0])
	}
	h, err := hex.DecodeString(parts[1])
	if err != nil || len(h) != len(c.Hash) {
		return Checkpoint{}, fmt.Errorf("checkpoint: hash %q is not 64 hex digits", parts[1])
	}
	copy(c.Hash[:], h)
	micros, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: time %q is not a number", parts[2])
	}
	c.Time = time.UnixMicro(micros).UTC()
	if err := checkKeyID(parts[3]); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	c.KeyID = parts[3]
	if c.Sig, err = base64.RawURLEncoding.DecodeString(parts[4]); err != nil || len(c.Sig) == 0 || len(c.Sig) > 80 {
		return Checkpoint{}, errors.New("checkpoint: the signature is not base64url of an ECDSA signature")
	}
	return c, nil
}

// checkKeyID refuses key ids that would break the text form.
func checkKeyID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("key id %q is empty or too long", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("key id %q has a character other than letters, digits, - and _", id)
		}
	}
	return nil
}
