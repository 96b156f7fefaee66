package authn

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// A pending sign-in travels with the browser, not in the database. Its id
// (the login cookie's value) is the pending sign-in itself, sealed with
// XChaCha20-Poly1305 under a key derived from the encryption key that every
// process of an installation shares: any process can open it, and nobody
// else can read or change it. (XChaCha20's 192-bit random nonces never
// repeat in practice, however many sign-ins a key sees; AES-GCM's 96-bit
// ones would limit a key to about 2^32 of them.) The store keeps only which
// ids were used (UsePending), until an hour after they expire, so every
// step is single use; starting a sign-in, or a key ceremony without a
// username, writes nothing at all. The hour is the margin for clocks that
// differ between processes: they must agree far better than that (app
// codes need them within seconds anyway).

// pendingAAD binds a sealed pending sign-in to its purpose and version, so
// that nothing else ever sealed under its key passes for one.
var pendingAAD = []byte("keyhall pending sign-in v1")

// MaxPendingIDLen bounds a pending id, so that it fits a cookie (browsers
// keep 4096 bytes of one, name and attributes included, and the id goes
// there in base64). A key ceremony takes the same ~250 bytes however many
// keys the person has (keyCeremony), so only a long return address comes
// near it, and is dropped (put). A longer id is neither made nor opened.
const MaxPendingIDLen = 2800

// errPendingTooLong: a pending sign-in that does not fit MaxPendingIDLen.
var errPendingTooLong = fmt.Errorf("longer than %d bytes sealed", MaxPendingIDLen)

// errBadPending: an id that cannot be opened, or whose content is damaged.
var errBadPending = errors.New("not a pending sign-in of this installation")

// newPendingAEAD returns the cipher of pending ids, under a key derived
// from the installation's encryption key (HKDF-SHA256), so that it never
// shares a key with the sealed app secrets.
func newPendingAEAD(encryptionKey [32]byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, encryptionKey[:], nil, "keyhall pending sign-in", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(key)
}

// sealPending returns the id of p: a random nonce and p, sealed. An error
// if it would be longer than MaxPendingIDLen.
func (s *SignIn) sealPending(p Pending) ([]byte, error) {
	plain := encodePending(p)
	n := s.pendingAEAD.NonceSize()
	if size := n + len(plain) + s.pendingAEAD.Overhead(); size > MaxPendingIDLen {
		return nil, fmt.Errorf("pending sign-in of %q: %w: %d bytes sealed (a key ceremony of %d bytes, a return address of %d)",
			p.Username, errPendingTooLong, size, len(p.Ceremony), len(p.ReturnTo))
	}
	nonce := make([]byte, n, n+len(plain)+s.pendingAEAD.Overhead())
	rand.Read(nonce) // never fails (crypto/rand, Go ≥ 1.24)
	return s.pendingAEAD.Seal(nonce, nonce, plain, pendingAAD), nil
}

// openPending returns the pending sign-in whose id is id, with its Hash
// set: ErrNotFound wrapped if id was not sealed by this installation (or
// was changed), ErrExpired if now is not before its expiry.
func (s *SignIn) openPending(id []byte, now time.Time) (Pending, error) {
	p, err := s.openSealed(id)
	if err != nil {
		return Pending{}, err
	}
	if !now.Before(p.ExpiresAt) {
		return Pending{}, ErrExpired
	}
	return p, nil
}

// ReturnToOf returns where the sign-in with pendingID was going, also when
// it has expired or was used (a person who took too long starts again for
// the same tool); "" when id was not sealed by this installation. Only the
// address is taken from an expired sign-in, and the caller checks it as
// at the start of a sign-in.
func (s *SignIn) ReturnToOf(pendingID []byte) string {
	p, err := s.openSealed(pendingID)
	if err != nil {
		return ""
	}
	return p.ReturnTo
}

// openSealed opens the sealed pending sign-in id, whatever its expiry.
func (s *SignIn) openSealed(id []byte) (Pending, error) {
	if len(id) > MaxPendingIDLen {
		return Pending{}, errors.Join(ErrNotFound, errBadPending)
	}
	n := s.pendingAEAD.NonceSize()
	if len(id) < n+s.pendingAEAD.Overhead() {
		return Pending{}, errors.Join(ErrNotFound, errBadPending)
	}
	plain, err := s.pendingAEAD.Open(nil, id[:n], id[n:], pendingAAD)
	if err != nil {
		return Pending{}, errors.Join(ErrNotFound, errBadPending)
	}
	p, err := decodePending(plain)
	if err != nil {
		return Pending{}, errors.Join(ErrNotFound, err)
	}
	p.Hash = HashPendingID(id)
	return p, nil
}

// pendingVersion is the first byte of an encoded pending sign-in.
const pendingVersion = 1

// idLen is the length of an id (NewID). The user id of a pending sign-in
// takes at least as much room when it is "" (an unknown username), so that
// the length of an id does not tell whether a username exists.
var idLen = len(NewID())

// encodePending writes p's fields (Hash aside) as a version byte, six
// length-prefixed byte strings (the first padded with zeros to idLen), a
// flag byte (1: RecoveryOnly, followed by the 32 bytes of RecoveryCode)
// and two times in microseconds.
func encodePending(p Pending) []byte {
	b := make([]byte, 0, 64+idLen+len(p.Username)+len(p.Ceremony)+len(p.ReturnTo))
	b = append(b, pendingVersion)
	for i, f := range [][]byte{[]byte(p.UserID), []byte(p.Username), []byte(strings.Join(p.AMR, " ")),
		p.Ceremony, []byte(p.Next), []byte(p.ReturnTo)} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
		if i == 0 && len(f) < idLen {
			b = append(b, make([]byte, idLen-len(f))...)
		}
	}
	flag := byte(0)
	if p.RecoveryOnly {
		flag = 1
	}
	b = append(b, flag)
	if p.RecoveryOnly {
		b = append(b, p.RecoveryCode[:]...) // the code, used up at the end
	}
	b = binary.AppendVarint(b, p.CreatedAt.UnixMicro())
	return binary.AppendVarint(b, p.ExpiresAt.UnixMicro())
}

// decodePending reads what encodePending wrote. Only sealed (so
// authenticated) bytes reach it, but it checks every length all the same.
func decodePending(b []byte) (Pending, error) {
	if len(b) == 0 || b[0] != pendingVersion {
		return Pending{}, errBadPending
	}
	b = b[1:]
	var fields [6][]byte
	for i := range fields {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return Pending{}, errBadPending
		}
		end := k + int(n)
		if i == 0 && n < uint64(idLen) { // the padding of a short user id
			end = k + idLen
			if end > len(b) {
				return Pending{}, errBadPending
			}
		}
		fields[i], b = b[k:k+int(n)], b[end:]
	}
	if len(b) < 1 || b[0] > 1 {
		return Pending{}, errBadPending
	}
	p := Pending{
		UserID: string(fields[0]), Username: string(fields[1]), Next: Step(fields[4]),
		ReturnTo: string(fields[5]), RecoveryOnly: b[0] == 1,
	}
	if len(fields[2]) > 0 {
		p.AMR = strings.Split(string(fields[2]), " ")
	}
	if len(fields[3]) > 0 {
		p.Ceremony = fields[3]
	}
	b = b[1:]
	if p.RecoveryOnly {
		if len(b) < len(p.RecoveryCode) {
			return Pending{}, errBadPending
		}
		b = b[copy(p.RecoveryCode[:], b):]
	}
	var times [2]time.Time
	for i := range times {
		us, k := binary.Varint(b)
		if k <= 0 {
			return Pending{}, errBadPending
		}
		times[i], b = time.UnixMicro(us).UTC(), b[k:]
	}
	if len(b) != 0 {
		return Pending{}, errBadPending
	}
	p.CreatedAt, p.ExpiresAt = times[0], times[1]
	return p, nil
}
