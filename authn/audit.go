package authn

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
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
	// Redacted: the event's personal data was removed after it was
	// written, when the person was erased (DSGVO Art. 17) or the record's
	// retention ended. Seq, Time, Action, PrevHash and Hash are as written;
	// Actor and Subject name an erased person only by Pseudonym; Reason,
	// ClientAddr and Details are empty. VerifyChain checks its place in the
	// chain but cannot check its content against Hash.
	Redacted bool
}

// Pseudonym is how a redacted audit event names the person with id:
// "erased:" and the SHA-256 of "user:<id>" in hex. Whoever knows her id
// can find her events; nobody can read her id from them.
func Pseudonym(userID string) string {
	sum := sha256.Sum256([]byte("user:" + userID))
	return "erased:" + hex.EncodeToString(sum[:])
}

// ChainHash returns the hash of e chained to prev: SHA-256 over prev and an
// unambiguous encoding of every field but Hash and PrevHash (each string
// length-prefixed, details in key order). The store appends e as e.Seal
// returns it, whose Hash is ChainHash over what the store keeps.
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

// Seal returns e as the store keeps it when it appends e with Seq seq after
// the event whose hash is prev, and the JSON of its Details that the store
// writes. It encodes the details once; e.Details becomes what those bytes
// decode to, and every other text what the store gives back: text that is
// not valid UTF-8 has each stray byte replaced by U+FFFD, as encoding/json
// does, and Time is UTC to the microsecond. Hash is ChainHash over exactly
// that, so a verifier reading the stored event computes the hash that was
// written (#17: it used to hash the bytes given and store the JSON's
// U+FFFD, and the chain broke for good). Entrances refuse such text first
// (CheckText); Seal makes sure the chain holds even if some path does not.
func (e AuditEvent) Seal(seq int64, prev [32]byte) (AuditEvent, []byte, error) {
	details := []byte("{}")
	var m map[string]string
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details) // keys sorted; invalid UTF-8 coerced
		if err != nil {
			return e, nil, fmt.Errorf("encode audit details: %w", err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return e, nil, fmt.Errorf("decode audit details: %w", err)
		}
		details = b
	}
	e.Details = m
	e.Actor, e.Action, e.Subject = storedText(e.Actor), storedText(e.Action), storedText(e.Subject)
	e.Reason, e.ClientAddr = storedText(e.Reason), storedText(e.ClientAddr)
	e.Seq = seq
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.PrevHash = prev
	e.Hash = e.ChainHash(prev)
	return e, details, nil
}

// storedText returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as encoding/json coerces strings; PostgreSQL would
// refuse s, SQLite keep it.
func storedText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// ChainBreak is where an audit log's chain does not hold: event Seq does
// not fit after event After, for Reason.
type ChainBreak struct {
	Seq, After int64
	Reason     string // "an event is missing", "does not point to the event before it", "was changed after it was written"
}

func (b *ChainBreak) Error() string {
	if b.Reason == BreakMissing {
		return fmt.Sprintf("audit event %d follows %d: %s", b.Seq, b.After, b.Reason)
	}
	return fmt.Sprintf("audit event %d %s", b.Seq, b.Reason)
}

// The reasons of a ChainBreak.
const (
	BreakMissing = "an event is missing"
	BreakLink    = "does not point to the event before it"
	BreakChanged = "was changed after it was written"
	// BreakRedacted: an event marked redacted still holds what redaction
	// removes (a reason, an address, details): it was changed and marked
	// so to hide it.
	BreakRedacted = "is marked redacted but was not redacted by Keyhall"
)

// redactedForm reports whether e has the form redaction leaves: no
// reason, client address or details. Its time, action, actor and subject
// cannot be checked: a redacted event's content is gone by design
// (erasure, retention), so the chain vouches only for its place, and
// whoever can write to the database could rewrite those four and mark the
// event redacted. `keyhall admin audit verify` counts redacted events, and
// the lines serve logged of each event keep what it was (docs/privacy.md).
func redactedForm(e AuditEvent) bool {
	return e.Reason == "" && e.ClientAddr == "" && len(e.Details) == 0
}

// VerifyChain checks that events, in order, continue a chain whose last hash
// was prev (zero at the start of the log) and have consecutive sequence
// numbers from prevSeq+1. It returns the last hash and Seq, to verify the
// next page with, or a *ChainBreak naming the first event that does not fit.
// A Redacted event's content is not checked (it was removed on purpose),
// only its place: its Seq and PrevHash, and the next event's PrevHash,
// which must be its Hash as written.
func VerifyChain(prev [32]byte, prevSeq int64, events []AuditEvent) ([32]byte, int64, error) {
	for _, e := range events {
		reason := ""
		switch {
		case e.Seq != prevSeq+1:
			reason = BreakMissing
		case e.PrevHash != prev:
			reason = BreakLink
		case !e.Redacted && e.Hash != e.ChainHash(prev):
			reason = BreakChanged
		case e.Redacted && !redactedForm(e):
			reason = BreakRedacted
		}
		if reason != "" {
			return prev, prevSeq, &ChainBreak{Seq: e.Seq, After: prevSeq, Reason: reason}
		}
		prev, prevSeq = e.Hash, e.Seq
	}
	return prev, prevSeq, nil
}
