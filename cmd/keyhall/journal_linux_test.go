package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeJournal is a unix datagram socket where journald's would be, and
// what reads the entries sent to it as journald does.
type fakeJournal struct {
	path string
	conn *net.UnixConn
}

func newFakeJournal(t *testing.T) *fakeJournal {
	t.Helper()
	path := filepath.Join(t.TempDir(), "socket")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeJournal{path: path, conn: conn}
}

// next reads one entry (from the datagram, or the memfd passed with it)
// and returns its fields, and whether it came in a memfd.
func (j *fakeJournal) next(t *testing.T) (map[string]string, bool) {
	t.Helper()
	buf, oob := make([]byte, 1<<20), make([]byte, 1024)
	j.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, _, _, err := j.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("no entry: %v", err)
	}
	data, viaFD := buf[:n], false
	if oobn > 0 {
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			t.Fatalf("control message: %v", err)
		}
		fds, err := syscall.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			t.Fatalf("passed descriptors: %v %v", fds, err)
		}
		f := os.NewFile(uintptr(fds[0]), "memfd")
		defer f.Close()
		// journald maps only sealed memfds; an unsealed one could change
		// under it.
		if seals, err := fcntlGetSeals(f); err != nil || seals&0xf != 0xf {
			t.Errorf("memfd seals %#x (%v), want shrink, grow, write and seal", seals, err)
		}
		if data, err = io.ReadAll(io.NewSectionReader(f, 0, 1<<30)); err != nil { // from the start, as journald maps it
			t.Fatal(err)
		}
		viaFD = true
	}
	return parseJournalEntry(t, data), viaFD
}

// parseJournalEntry reads the native protocol: NAME=value lines, or NAME,
// a newline, a 64-bit little-endian length, the value and a newline.
func parseJournalEntry(t *testing.T, b []byte) map[string]string {
	t.Helper()
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			t.Fatalf("entry does not end in a newline: %q", b)
		}
		line := string(b[:nl])
		b = b[nl+1:]
		if name, value, ok := strings.Cut(line, "="); ok {
			fields[name] = value
			continue
		}
		if len(b) < 8 {
			t.Fatalf("field %s: no length", line)
		}
		n := binary.LittleEndian.Uint64(b)
		b = b[8:]
		if uint64(len(b)) < n+1 || b[n] != '\n' {
			t.Fatalf("field %s: length %d does not fit", line, n)
		}
		fields[line] = string(b[:n])
		b = b[n+1:]
	}
	return fields
}

func TestJournalHandler(t *testing.T) {
	j := newFakeJournal(t)
	var stderr bytes.Buffer
	log := slog.New(newJournalHandler(j.path, slog.LevelInfo, slog.NewTextHandler(&stderr, nil)))

	log.With("storage", "sqlite://keyhall.db").WithGroup("request").Info("request failed",
		"path", "/login", "status", 503, "err", errors.New("database not open yet"), "message", "forged",
		slog.Group("client", "addr", "192.0.2.1"))
	got, _ := j.next(t)
	want := map[string]string{
		"MESSAGE": `request failed storage=sqlite://keyhall.db request.path=/login request.status=503 ` +
			`request.err="database not open yet" request.message=forged request.client.addr=192.0.2.1`,
		"PRIORITY": "6", "SYSLOG_IDENTIFIER": "keyhall",
		"STORAGE": "sqlite://keyhall.db", "REQUEST_PATH": "/login", "REQUEST_STATUS": "503",
		"REQUEST_ERR": "database not open yet", "REQUEST_MESSAGE": "forged", "REQUEST_CLIENT_ADDR": "192.0.2.1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}

	// Names the journal gives a meaning to are not an attribute's to take;
	// a value with a newline goes in the protocol's binary form.
	log.Error("sign-in failed", "priority", "0", "message", "x", "user", "anna\nSYSLOG_IDENTIFIER=sshd")
	got, _ = j.next(t)
	if got["PRIORITY"] != "3" || got["SYSLOG_IDENTIFIER"] != "keyhall" || got["KEYHALL_PRIORITY"] != "0" ||
		got["KEYHALL_MESSAGE"] != "x" || got["USER"] != "anna\nSYSLOG_IDENTIFIER=sshd" {
		t.Errorf("error entry: %q", got)
	}
	log.Warn("w")
	if got, _ = j.next(t); got["PRIORITY"] != "4" {
		t.Errorf("warn: PRIORITY %q, want 4", got["PRIORITY"])
	}
	log.Debug("not wanted at info")

	// Larger than a datagram may be: in a memfd.
	big := strings.Repeat("x", 1<<20-4096)
	log.Info("large", "body", big)
	got, viaFD := j.next(t)
	if !viaFD || got["BODY"] != big {
		t.Errorf("large entry: in a memfd %v, BODY of %d bytes, want %d", viaFD, len(got["BODY"]), len(big))
	}

	// No journal: the record goes to the fallback (stderr), whole.
	if stderr.Len() != 0 {
		t.Errorf("fallback written while the journal took every entry:\n%s", stderr.String())
	}
	j.conn.Close()
	os.Remove(j.path)
	log.With("storage", "x").Warn("journal gone", "err", "e")
	if s := stderr.String(); !strings.Contains(s, `level=WARN msg="journal gone" storage=x err=e`) {
		t.Errorf("fallback wrote %q", s)
	}
}

// TestLogFormatJournal: log.format journal (KEYHALL_LOG_FORMAT, which the
// unit sets) is a valid setting and gives the journal's handler.
func TestLogFormatJournal(t *testing.T) {
	cfg, err := loadConfig("", []string{"KEYHALL_LOG_FORMAT=journal"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := newLogger(cfg, io.Discard).Handler().(*journalHandler); !ok {
		t.Errorf("log.format journal: handler %T", newLogger(cfg, io.Discard).Handler())
	}
}

func fcntlGetSeals(f *os.File) (int, error) { return unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0) }

// A journal that takes nothing (journald stuck, its socket buffer full)
// holds up no log call for long: the entries go to the fallback.
func TestJournalHandlerFullSocket(t *testing.T) {
	j := newFakeJournal(t) // never read
	var fallback bytes.Buffer
	log := slog.New(newJournalHandler(j.path, slog.LevelInfo, slog.NewTextHandler(&fallback, nil)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			log.Info("request", "n", i)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("2000 log calls to a journal that reads nothing still blocked after 10 s")
	}
	if !strings.Contains(fallback.String(), "n=1999") {
		t.Errorf("the last entry did not reach the fallback; it has %d bytes", fallback.Len())
	}
}
