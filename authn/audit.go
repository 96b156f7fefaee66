package authn

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// AuditEvent records who did what to whom, and why. Events are append-only
// and chained: Hash covers the event and PrevHash, the Hash of the event
// before it (zero for the first).
type AuditEvent struct {
	Seq        int64     // assigned by the store, 1, 2, 3, … without gaps
	Time       time.Time // set by the caller; the store keeps it to the microsecond
	Actor      string    // "system", "cli:<os user>", "user:<id>"
	Action     string    // dotted verb, e.g. "user.create", "session.revoke"
	Subject    string    // "user:<id>", "group:<id>", …; "" when none
	Reason     string    // why, where a person had to give a reason
	ClientAddr string
	Details    map[string]string
	PrevHash   [32]byte
	Hash       [32]byte
}

// ChainHash returns the hash of e chained to prev: SHA-256 over prev and an
// unambiguous encoding of every field but Hash and PrevHash (each string
// length-prefixed, details in key order). The store sets e.PrevHash = prev and
// e.Hash = e.ChainHash(prev) as it appends.
func (e AuditEvent) ChainHash(prev [32]byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	var n [8]byte
	writeInt := func(v int64) {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	writeStr := func(s string) {
		writeInt(int64(len(s)))
		h.Write([]byte(s))
	}
	writeInt(e.Seq)
	writeInt(e.Time.UTC().UnixMicro())
	writeStr(e.Actor)
	writeStr(e.Action)
	writeStr(e.Subject)
	writeStr(e.Reason)
	writeStr(e.ClientAddr)
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	writeInt(int64(len(keys)))
	for _, k := range keys {
		writeStr(k)
		writeStr(e.Details[k])
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// VerifyChain checks that events, in order, continue a chain whose last hash
// was prev (zero at the start of the log) and have consecutive sequence
// numbers from prevSeq+1. It returns the last hash and Seq, to verify the
// next page with, or an error naming the first event that does not fit.
func VerifyChain(prev [32]byte, prevSeq int64, events []AuditEvent) ([32]byte, int64, error) {
	for _, e := range events {
		if e.Seq != prevSeq+1 {
			return prev, prevSeq, fmt.Errorf("audit event %d follows %d: an event is missing", e.Seq, prevSeq)
		}
		if e.PrevHash != prev {
			return prev, prevSeq, fmt.Errorf("audit event %d does not point to the event before it", e.Seq)
		}
		if e.Hash != e.ChainHash(prev) {
			return prev, prevSeq, fmt.Errorf("audit event %d was changed after it was written", e.Seq)
		}
		prev, prevSeq = e.Hash, e.Seq
	}
	return prev, prevSeq, nil
}
