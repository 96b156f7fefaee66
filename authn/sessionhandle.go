package authn

import (
	"crypto/sha256"
	"encoding/hex"
)

// Handle names a session to its person (on /account, in her data): the
// first 16 hex digits of the SHA-256 of the hash. The hash itself is what
// the store looks sessions up by and never leaves the server.
func (h SessionHash) Handle() string {
	sum := sha256.Sum256(h[:])
	return hex.EncodeToString(sum[:8])
}
