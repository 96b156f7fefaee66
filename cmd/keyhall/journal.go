package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// journalSocket is where systemd-journald takes entries in its native
// protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL).
const journalSocket = "/run/systemd/journal/socket"

// journalHandler is the slog.Handler of log.format "journal": each record
// becomes one journal entry with MESSAGE (the message, then its attributes
// as key=value, as the text format writes them, so that journalctl shows
// them), PRIORITY from the level, SYSLOG_IDENTIFIER=keyhall, and each
// attribute as a field of its own, named in capitals with groups joined by
// "_" (err → ERR, request.path → REQUEST_PATH), so that
// `journalctl -u keyhall USER=anna` finds what concerns anna. A field
// that would take the name of one journald gives meaning to (MESSAGE,
// PRIORITY, …) is prefixed KEYHALL_.
//
// It reads nothing from outside: it only writes datagrams. An entry too
// large for one datagram goes in a sealed memfd, passed along (Linux).
// A record the journal does not take (no journald, a full socket buffer)
// is written by fallback instead, in the text format to stderr, which
// systemd connects to the journal too: nothing is lost.
type journalHandler struct {
	sock     *journalSocketConn
	level    slog.Leveler
	fields   []journalField // from WithAttrs, names already prefixed by their groups
	prefix   string         // the groups opened by WithGroup, "A_B_"
	keys     string         // the same for MESSAGE's key=value: "a.b."
	fallback slog.Handler
}

type journalField struct{ name, key, value string }

// journalSocketConn is an unbound datagram socket and the journal's address.
// Each entry is sent to the address (not a connected socket), so that a
// journald restarted since still gets them.
type journalSocketConn struct {
	conn *net.UnixConn
	addr *net.UnixAddr
	// stuckUntil (Unix nanoseconds): after a send timed out, entries go
	// to the fallback at once until then, not each after a timeout.
	stuckUntil atomic.Int64
}

// newJournalHandler returns a handler sending to the journal at path, or
// fallback alone when no datagram socket can be made.
func newJournalHandler(path string, level slog.Leveler, fallback slog.Handler) slog.Handler {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram"}) // autobound
	if err != nil {
		return fallback
	}
	return &journalHandler{sock: &journalSocketConn{conn: conn, addr: &net.UnixAddr{Name: path, Net: "unixgram"}},
		level: level, fallback: fallback}
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.fields = append([]journalField(nil), h.fields...)
	for _, a := range as {
		c.fields = appendAttr(c.fields, h.prefix, h.keys, a)
	}
	c.fallback = h.fallback.WithAttrs(as)
	return &c
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix += journalName(name) + "_"
	c.keys += name + "."
	c.fallback = h.fallback.WithGroup(name)
	return &c
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	fields := h.fields
	if r.NumAttrs() > 0 {
		fields = append([]journalField(nil), fields...)
		r.Attrs(func(a slog.Attr) bool {
			fields = appendAttr(fields, h.prefix, h.keys, a)
			return true
		})
	}
	var msg strings.Builder
	msg.WriteString(r.Message)
	for _, f := range fields {
		msg.WriteByte(' ')
		msg.WriteString(f.key)
		msg.WriteByte('=')
		msg.WriteString(logfmtValue(f.value))
	}
	b := make([]byte, 0, 256+msg.Len()*2)
	b = appendJournalField(b, "MESSAGE", msg.String())
	b = appendJournalField(b, "PRIORITY", journalPriority(r.Level))
	b = appendJournalField(b, "SYSLOG_IDENTIFIER", "keyhall")
	for _, f := range fields {
		b = appendJournalField(b, f.name, f.value)
	}
	if err := h.sock.send(b); err != nil {
		return h.fallback.Handle(ctx, r)
	}
	return nil
}

// journalSendTimeout bounds how long a log call waits for journald to take
// an entry (a full socket buffer: journald is slow or stuck); after it the
// entry goes to the fallback, and so do the entries of the next
// journalStuckPause without trying, so that no request waits on the
// journal.
const (
	journalSendTimeout = 50 * time.Millisecond
	journalStuckPause  = time.Second
)

// errJournalStuck: the journal did not take the last entry in time.
var errJournalStuck = errors.New("the journal takes no entries")

// send sends one entry: as a datagram, or, too large for one, in a memfd.
func (s *journalSocketConn) send(entry []byte) error {
	now := time.Now()
	if now.UnixNano() < s.stuckUntil.Load() {
		return errJournalStuck
	}
	s.conn.SetWriteDeadline(now.Add(journalSendTimeout))
	_, _, err := s.conn.WriteMsgUnix(entry, nil, s.addr)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.stuckUntil.Store(time.Now().Add(journalStuckPause).UnixNano())
	}
	if errors.Is(err, syscall.EMSGSIZE) || errors.Is(err, syscall.ENOBUFS) {
		return s.sendLarge(entry)
	}
	return err
}

// appendAttr appends a's fields (a group's, flattened) to fs.
func appendAttr(fs []journalField, prefix, keys string, a slog.Attr) []journalField {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return fs
	}
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix, keys = prefix+journalName(a.Key)+"_", keys+a.Key+"."
		}
		for _, g := range v.Group() {
			fs = appendAttr(fs, prefix, keys, g)
		}
		return fs
	}
	var s string
	if v.Kind() == slog.KindTime {
		s = v.Time().Format(time.RFC3339Nano)
	} else {
		s = v.String()
	}
	name := prefix + journalName(a.Key)
	if journalReserved[name] || name[0] == '_' || name[0] >= '0' && name[0] <= '9' {
		name = "KEYHALL_" + name
	}
	if len(name) > 64 { // journald's longest field name
		name = name[:64]
	}
	return append(fs, journalField{name: name, key: keys + a.Key, value: s})
}

// journalReserved are the fields journald and journalctl give a meaning
// to (systemd.journal-fields(7)) that an attribute must not take.
var journalReserved = map[string]bool{
	"MESSAGE": true, "MESSAGE_ID": true, "PRIORITY": true, "CODE_FILE": true, "CODE_LINE": true,
	"CODE_FUNC": true, "ERRNO": true, "INVOCATION_ID": true, "USER_INVOCATION_ID": true,
	"SYSLOG_FACILITY": true, "SYSLOG_IDENTIFIER": true, "SYSLOG_PID": true, "SYSLOG_TIMESTAMP": true,
	"SYSLOG_RAW": true, "DOCUMENTATION": true, "TID": true, "UNIT": true, "USER_UNIT": true,
}

// journalName turns an attribute key into a field name: capitals, digits
// and "_".
func journalName(key string) string {
	if key == "" {
		return "_"
	}
	b := make([]byte, 0, len(key))
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

// appendJournalField appends NAME=value and a newline, or, for a value
// holding a newline, NAME, a newline, the value's length as 64-bit little
// endian, the value and a newline (the native protocol).
func appendJournalField(b []byte, name, value string) []byte {
	b = append(b, name...)
	if !strings.Contains(value, "\n") {
		b = append(b, '=')
		b = append(b, value...)
		return append(b, '\n')
	}
	b = append(b, '\n')
	n := uint64(len(value))
	for i := 0; i < 8; i++ {
		b = append(b, byte(n>>(8*i)))
	}
	b = append(b, value...)
	return append(b, '\n')
}

// journalPriority maps a level to syslog's priorities: debug 7, info 6,
// warn 4, error 3.
func journalPriority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "3"
	case l >= slog.LevelWarn:
		return "4"
	case l >= slog.LevelInfo:
		return "6"
	}
	return "7"
}

// logfmtValue quotes v as the text format does when it holds a space, a
// quote, "=", something unprintable or nothing.
func logfmtValue(v string) string {
	if v == "" || !utf8.ValidString(v) || strings.ContainsAny(v, " \"=\\") || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return strconv.Quote(v)
	}
	return v
}
