//go:build !linux

package main

import "errors"

// sendLarge: there is no journald but on Linux; the record goes to the
// fallback.
func (s *journalSocketConn) sendLarge([]byte) error {
	return errors.New("journal: entry too large for a datagram")
}
