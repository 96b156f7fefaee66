package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

func runTests(m *testing.M) int {
	defer pgtest.StopShared()
	defer ldaptest.StopSamba()
	return m.Run()
}

var linkRx = `(http://localhost:8080/enroll/[2-9A-HJKMNP-Z-]{64})\s`

// TestServeFreshClone is what a new user does: "keyhall serve" in an empty
// directory, with no configuration and no flags.
func TestServeFreshClone(t *testing.T) {
	const defaultAddr = "127.0.0.1:8080"
	if c := defaultConfig(); c.Listen != defaultAddr || c.PublicURL != "http://localhost:8080" {
		t.Fatalf("default listen %s, public URL %s; want %s, http://localhost:8080", c.Listen, c.PublicURL, defaultAddr)
	}
	args, wantAddr := []string{"serve"}, defaultAddr
	if ln, err := net.Listen("tcp", defaultAddr); err != nil {
		// Another program has the port: the same first start, on a free
		// port (everything else as without flags); the default address is
		// the one checked above.
		t.Logf("port 8080 is taken (%v): starting with --listen 127.0.0.1:0", err)
		args, wantAddr = append(args, "--listen", "127.0.0.1:0"), ""
	} else {
		ln.Close()
	}
	dir := t.TempDir()
	start := time.Now()
	p := startKeyhall(t, dir, nil, args...)
	p.listening(t)
	if wantAddr != "" && p.addr != wantAddr {
		t.Fatalf("listens on %s, want %s", p.addr, wantAddr)
	}
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	t.Logf("ready %s after start", time.Since(start).Round(time.Millisecond))
	link := p.waitFor(t, linkRx, 10*time.Second)

	if code, body := get(t, p.url("/healthz"), ""); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("GET /healthz = %d %q", code, body)
	}
	// Metrics are off unless metrics_listen names a listener of their own.
	if code, body := get(t, p.url("/metrics"), ""); code != 404 || strings.Contains(body, "keyhall_") {
		t.Errorf("GET /metrics on the public listener = %d, want 404", code)
	}
	for _, f := range []string{"keyhall.db", "keyhall.keys"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("a fresh start should create %s in the working directory: %v", f, err)
		}
	}
	if n := len(p.lines("created the first administrator")); n != 1 {
		t.Errorf("%d log lines about the first administrator, want 1", n)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0", code)
	}
	if len(p.lines("msg=stopped")) != 1 {
		t.Error("no log line saying the server stopped")
	}

	// The link is the invitation: bound to the administrator, single use, 24 hours.
	st := openSQLite(t, filepath.Join(dir, "keyhall.db"))
	token := link[strings.LastIndex(link, "/")+1:]
	inv, err := st.GetInvitation(context.Background(), authn.HashToken(token))
	if err != nil {
		t.Fatalf("the printed link is not a stored invitation: %v", err)
	}
	if got := inv.ExpiresAt.Sub(inv.CreatedAt); got != 24*time.Hour || inv.Purpose != authn.PurposeBootstrap {
		t.Errorf("invitation: purpose %s, valid %s; want bootstrap, 24h", inv.Purpose, got)
	}
	admin, err := st.GetUser(context.Background(), inv.UserID)
	if err != nil || admin.Username != "admin" {
		t.Fatalf("invitation's person = %+v, %v; want admin", admin, err)
	}
	groups, err := st.UserGroups(context.Background(), admin.ID)
	if err != nil || len(groups) != 1 || groups[0].Name != "keyhall-admins" {
		t.Errorf("admin's groups = %v, %v; want [keyhall-admins]", groups, err)
	}
	st.Close()

	// A second start finds people and prints no new link.
	p2 := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p2.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p2.url("/readyz"), "", 200))
	if p2.stop(t) != 0 || regexp.MustCompile(linkRx).MatchString(p2.out.String()) {
		t.Errorf("second start printed a new link or failed:\n%s", p2.out.String())
	}
}

func openSQLite(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), "sqlite://"+path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newSession stores a signed-in session for username and returns its cookie value.
func newSession(t *testing.T, st authn.Store, username string) (string, authn.SessionHash) {
	t.Helper()
	ctx := context.Background()
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	now := time.Now()
	s := authn.Session{
		Hash: authn.HashSessionID(id), UserID: u.ID, AMR: []string{"hwk", "user"}, ACR: "phrh",
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(id), s.Hash
}

// TestServeTwoProcessesOnePostgres: two processes on one database act as
// one service: one bootstrap between them, a session from either is good
// at both, and a revocation reaches both within a second.
func TestServeTwoProcessesOnePostgres(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	dir := t.TempDir()
	env := []string{"KEYHALL_STORAGE=" + dsn}
	a := startKeyhall(t, dir, env, "serve", "--listen", "127.0.0.1:0")
	b := startKeyhall(t, dir, env, "serve", "--listen", "127.0.0.1:0")
	a.listening(t)
	b.listening(t)
	for _, p := range []*proc{a, b} {
		eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	}
	rx := regexp.MustCompile(linkRx)
	if n := len(rx.FindAllString(a.out.String()+b.out.String(), -1)); n != 1 {
		t.Errorf("two processes starting on one empty database printed %d links, want exactly 1", n)
	}

	st, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cookie, h := newSession(t, st, "admin")
	for _, p := range []*proc{a, b} {
		if code, body := get(t, p.url("/api/session"), cookie); code != 200 || !strings.Contains(body, `"preferred_username":"admin"`) {
			t.Fatalf("session at %s: %d %s", p.addr, code, body)
		}
	}
	if err := st.RevokeSession(context.Background(), h, time.Now()); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for _, p := range []*proc{a, b} {
		eventually(t, 2*time.Second, wantStatus(t, p.url("/api/session"), cookie, 401))
		if d := time.Since(revoked); d > time.Second+200*time.Millisecond {
			t.Errorf("revocation took %s to reach %s, want ≤ 1 s", d, p.addr)
		}
	}
	if code, _ := get(t, a.url("/api/session"), "garbled"); code != 401 {
		t.Errorf("garbled cookie: %d, want 401", code)
	}
}

// TestServePostgresOutage: a database that is down at start, or goes away
// while serving, gives 503s (never a signed-in answer), and the process
// recovers by itself.
func TestServePostgresOutage(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.NewDatabase(t)
	pg.Stop(t)

	p := startKeyhall(t, t.TempDir(), []string{"KEYHALL_STORAGE=" + dsn}, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	p.waitFor(t, `database unavailable`, 30*time.Second)
	for _, path := range []string{"/readyz", "/api/session"} {
		if code, _ := get(t, p.url(path), strings.Repeat("A", 43)); code != 503 {
			t.Errorf("GET %s with the database down at start: %d, want 503", path, code)
		}
	}
	if code, _ := get(t, p.url("/healthz"), ""); code != 200 {
		t.Errorf("/healthz with the database down: %d, want 200 (the process is up)", code)
	}

	pg.Start(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	p.waitFor(t, linkRx, 10*time.Second)

	st, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cookie, _ := newSession(t, st, "admin")
	st.Close()
	eventually(t, 5*time.Second, wantStatus(t, p.url("/api/session"), cookie, 200))

	pg.Stop(t)
	eventually(t, 10*time.Second, wantStatus(t, p.url("/readyz"), "", 503))
	// The cached session may live up to a second; after that, never a 200.
	time.Sleep(authn.SessionCacheTTL)
	for range 5 {
		if code, body := get(t, p.url("/api/session"), cookie); code != 503 {
			t.Fatalf("session check with the database gone: %d %s, want 503", code, body)
		}
	}
	pg.Start(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/api/session"), cookie, 200))
	eventually(t, 5*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// TestServeCorruptSQLite: a corrupt database file is reported, the server
// answers 503, and it recovers when the file is replaced.
func TestServeCorruptSQLite(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keyhall.db")
	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	if err := os.WriteFile(db, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	line := p.waitFor(t, `(.*database unavailable.*)`, 30*time.Second)
	if !strings.Contains(line, "keyhall.db") {
		t.Errorf("the log line does not name the file: %s", line)
	}
	if code, _ := get(t, p.url("/readyz"), ""); code != 503 {
		t.Errorf("/readyz on a corrupt database: %d, want 503", code)
	}
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// TestServeSchemaTooNew: a database from a newer Keyhall stops start-up
// with a clear message instead of being touched.
func TestServeSchemaTooNew(t *testing.T) {
	dir := t.TempDir()
	st := openSQLite(t, filepath.Join(dir, "keyhall.db"))
	if _, err := st.DB().Exec(`UPDATE schema_version SET version = version + 100`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("keyhall kept running on a database from a newer version")
	}
	if p.code != 1 || !strings.Contains(p.out.String(), "newer") {
		t.Errorf("exit status %d, output %q; want 1 and a message about a newer schema", p.code, p.out.String())
	}
	_, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(dir, "keyhall.db"), sqlstore.Options{})
	if !errors.Is(err, authn.ErrSchemaTooNew) {
		t.Errorf("database changed: reopening gives %v, want ErrSchemaTooNew", err)
	}
}

// TestServeBadConfig: a broken configuration stops start-up with status 2,
// naming the file, line and key.
func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keyhall.yaml")
	os.WriteFile(cfg, []byte("public_url: http://localhost:8080\nlisten: 127.0.0.1:0\nstorag: sqlite://x.db\n"), 0o600)
	p := startKeyhall(t, dir, nil, "serve", "--config", cfg)
	<-p.exited
	if p.code != 2 || !strings.Contains(p.out.String(), "keyhall.yaml:3") || !strings.Contains(p.out.String(), "storag") {
		t.Errorf("exit status %d, output %q; want 2 naming keyhall.yaml:3 and storag", p.code, p.out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Error("a bad configuration created a database")
	}
}

// TestServeRefusesOtherKeys: a database remembers the fingerprint of the
// keys it was set up with; a process started on it with other keys (here:
// its key file lost, so a new one is made) stops with status 1 and says
// to copy the keys, before it serves anything from the database. With the
// right keys it starts again.
func TestServeRefusesOtherKeys(t *testing.T) {
	dir := t.TempDir()
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.waitFor(t, `empty database: created the first administrator`, 30*time.Second)
	if code := p.stop(t); code != 0 {
		t.Fatalf("first start: exit status %d", code)
	}
	keys := filepath.Join(dir, "keyhall.keys")
	saved, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keys); err != nil {
		t.Fatal(err)
	}
	p = startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("keyhall kept running with keys other than the database's")
	}
	if p.code != 1 || !strings.Contains(p.out.String(), "set up with other keys") || !strings.Contains(p.out.String(), "copy keys.file") {
		t.Errorf("exit status %d, output %q; want 1 and a message to copy the keys", p.code, p.out.String())
	}
	if err := os.WriteFile(keys, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	p = startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	if code := p.stop(t); code != 0 {
		t.Errorf("start with the first keys again: exit status %d", code)
	}
}

// TestServeReportsDamagedAuditLog: events removed from the end of the audit
// log are reported at start, as an error in the log; the server serves on.
func TestServeReportsDamagedAuditLog(t *testing.T) {
	dir := t.TempDir()
	p := startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.waitFor(t, `empty database: created the first administrator`, 30*time.Second)
	if code := p.stop(t); code != 0 {
		t.Fatalf("first start: exit status %d", code)
	}
	st := openSQLite(t, filepath.Join(dir, "keyhall.db"))
	if _, err := st.DB().Exec(`DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	p = startKeyhall(t, dir, nil, "serve", "--listen", "127.0.0.1:0")
	p.waitFor(t, `level=ERROR msg="audit log damaged".*audit verify`, 30*time.Second)
	p.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	p.stop(t)
}

// TestServeMetricsListener: with metrics_listen, /metrics is served there,
// and still not on the public listener.
func TestServeMetricsListener(t *testing.T) {
	p := startKeyhall(t, t.TempDir(), []string{"KEYHALL_METRICS_LISTEN=127.0.0.1:0"}, "serve", "--listen", "127.0.0.1:0")
	addr := p.waitFor(t, `msg="serving metrics" addr=(\S+)`, 30*time.Second)
	p.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	if code, body := get(t, "http://"+addr+"/metrics", ""); code != 200 || !strings.Contains(body, "keyhall_database_up 1") {
		t.Errorf("GET /metrics on metrics_listen = %d, body lacks keyhall_database_up 1", code)
	}
	if code, _ := get(t, p.url("/metrics"), ""); code != 404 {
		t.Errorf("GET /metrics on the public listener = %d, want 404", code)
	}
	p.stop(t)
}

// TestServeListenElsewhere: "serve --listen 127.0.0.1:PORT" with the
// default public_url (http://localhost:8080) prints a first link that would
// not reach it; so serve warns, next to the link, naming both and the
// setting to change. With public_url on that port, no warning.
func TestServeListenElsewhere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	port := addr[strings.LastIndex(addr, ":")+1:]
	p := startKeyhall(t, t.TempDir(), nil, "serve", "--listen", addr)
	p.listening(t)
	p.waitFor(t, linkRx, 30*time.Second)
	p.waitFor(t, `Warning: public_url is http://localhost:8080, but the server listens on `+regexp.QuoteMeta(addr)+
		` \(listen, --listen\).*set public_url \(KEYHALL_PUBLIC_URL\) to http://localhost:`+port, 5*time.Second)
	if n := len(p.lines("keyhall: warning: public_url is http://localhost:8080")); n != 1 {
		t.Errorf("%d warnings on stderr at start, want 1:\n%s", n, p.out.String())
	}
	p.stop(t)

	p = startKeyhall(t, t.TempDir(), []string{"KEYHALL_PUBLIC_URL=http://localhost:" + port}, "serve", "--listen", addr)
	p.listening(t)
	p.waitFor(t, `(http://localhost:`+port+`/enroll/[2-9A-HJKMNP-Z-]{64})\s`, 30*time.Second)
	p.stop(t)
	if strings.Contains(p.out.String(), "public_url is") {
		t.Errorf("warned though public_url matches --listen:\n%s", p.out.String())
	}
}
