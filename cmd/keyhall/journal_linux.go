package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendLarge hands the journal an entry too large for a datagram: written
// to a memfd, sealed, and its descriptor passed along
// (systemd.io/JOURNAL_NATIVE_PROTOCOL).
func (s *journalSocketConn) sendLarge(entry []byte) error {
	fd, err := unix.MemfdCreate("keyhall-journal", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "keyhall-journal")
	defer f.Close()
	if _, err := f.Write(entry); err != nil {
		return err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		return err
	}
	_, _, err = s.conn.WriteMsgUnix(nil, syscall.UnixRights(int(f.Fd())), s.addr)
	return err
}
