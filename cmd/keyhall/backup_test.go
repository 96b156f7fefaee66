package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/web"
)

// backupSite is an installation in a directory of its own: its SQLite
// database, its key file, and the environment that names both.
type backupSite struct {
	dir, db, keys string
	env           []string
}

func newBackupSite(t *testing.T) backupSite {
	dir := t.TempDir()
	s := backupSite{dir: dir, db: filepath.Join(dir, "keyhall.db"), keys: filepath.Join(dir, "keyhall.keys")}
	s.env = []string{"KEYHALL_STORAGE=sqlite://" + s.db, "KEYHALL_KEYS_FILE=" + s.keys}
	return s
}

// serve starts keyhall serve on the site and waits until it is ready.
func (s backupSite) serve(t *testing.T) *proc {
	t.Helper()
	p := startKeyhall(t, s.dir, s.env, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	return p
}

// readKeys reads the site's key file.
func (s backupSite) readKeys(t *testing.T) Keys {
	t.Helper()
	m, err := readKeyFile(s.keys)
	if err != nil {
		t.Fatal(err)
	}
	var k Keys
	k.Cookie = m["cookie_key"]
	copy(k.Encryption[:], m["encryption_key"])
	copy(k.OIDC[:], m["oidc_key"])
	return k
}

// backupPerson is a person of the backup test with a security key (key
// people) or an authenticator app and a password (app people).
type backupPerson struct {
	name   string
	user   authn.User
	key    *virtualwebauthn.Credential // nil for app people
	secret []byte                      // the app's secret; nil for key people
}

const backupPassword = "Rathaus am Markt 1"

// addBackupPeople adds n people to st, every other one with a key that
// verifies the person, the others with an app and a password, each with a
// session; TOTP secrets are sealed with keys as enroll seals them.
func addBackupPeople(t *testing.T, st authn.Store, keys Keys, n int) []*backupPerson {
	t.Helper()
	ctx := context.Background()
	phc, err := authn.HashPassword(backupPassword, authn.Argon2Params{})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(action string) authn.AuditEvent { return auditEvent(time.Now(), action, "", "test", nil) }
	var people []*backupPerson
	for i := range n {
		now := time.Now()
		p := &backupPerson{name: fmt.Sprintf("person%02d", i)}
		p.user = authn.User{ID: authn.NewID(), Username: p.name, DisplayName: p.name, Status: authn.StatusActive,
			Source: authn.SourceLocal, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateUser(ctx, p.user, ev("user.create")); err != nil {
			t.Fatal(err)
		}
		c := authn.Credential{ID: authn.NewID(), UserID: p.user.ID, CreatedAt: now}
		if i%2 == 0 {
			cred := newVirtualKey(t)
			p.key = &cred
			c.Kind, c.Nickname, c.WebAuthnID, c.PublicKey = authn.KindWebAuthn, "YubiKey", cred.ID, cred.Key.AttestationData()
			c.AAGUID, c.Transports, c.AttestationFmt = make([]byte, 16), []string{"usb"}, "none"
		} else {
			p.secret = make([]byte, 20)
			rand.Read(p.secret)
			c.Kind, c.Nickname = authn.KindTOTP, "App"
			if c.SecretSealed, err = authn.Seal(keys.Encryption, p.secret, []byte(c.ID)); err != nil {
				t.Fatal(err)
			}
			if err := st.SetPasswordHash(ctx, p.user.ID, phc, ev("password.set")); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.CreateCredential(ctx, c, ev("credential.create")); err != nil {
			t.Fatal(err)
		}
		newSession(t, st, p.name)
		people = append(people, p)
	}
	return people
}

// newVirtualKey makes a P-256 key for virtualwebauthn whose coordinates
// have no leading zero byte (virtualwebauthn drops one).
func newVirtualKey(t *testing.T) virtualwebauthn.Credential {
	for {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if pub, _ := priv.PublicKey.Bytes(); pub[1] == 0 || pub[33] == 0 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// backupReply is what one POST brought back.
type backupReply struct {
	status   int
	location string
	pending  string // the pending sign-in's new cookie
	session  bool   // a session cookie was set
	body     []byte
}

var noRedirects = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// postSignIn POSTs body to base+path with the pending sign-in's cookie.
func postSignIn(base, path, ctype, body, pending string) (backupReply, error) {
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		return backupReply{}, err
	}
	req.Header.Set("Content-Type", ctype)
	if pending != "" {
		req.AddCookie(&http.Cookie{Name: web.PendingCookie, Value: pending})
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		return backupReply{}, err
	}
	defer res.Body.Close()
	r := backupReply{status: res.StatusCode, location: res.Header.Get("Location")}
	r.body, err = io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		switch {
		case c.MaxAge < 0:
		case c.Name == web.PendingCookie:
			r.pending = c.Value
		case c.Name == web.SessionCookie:
			r.session = true
		}
	}
	return r, err
}

const formType = "application/x-www-form-urlencoded"

// signInWithKey signs p in through HTTP with her key: POST /login,
// /login/key/begin, the key's assertion (user verified), /login/key/finish.
func (p *backupPerson) signInWithKey(base string) error {
	r, err := postSignIn(base, "/login", formType, url.Values{"username": {p.name}}.Encode(), "")
	if err != nil || r.status != http.StatusSeeOther || r.location != "/login/key" {
		return fmt.Errorf("%s: POST /login: %d → %s, %v", p.name, r.status, r.location, err)
	}
	r, err = postSignIn(base, "/login/key/begin", "application/json", "{}", r.pending)
	if err != nil || r.status != http.StatusOK {
		return fmt.Errorf("%s: POST /login/key/begin: %d %s, %v", p.name, r.status, r.body, err)
	}
	opts, err := virtualwebauthn.ParseAssertionOptions(string(r.body))
	if err != nil {
		return fmt.Errorf("%s: assertion options %s: %v", p.name, r.body, err)
	}
	p.key.Counter++
	auth := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(p.user.ID)})
	rp := virtualwebauthn.RelyingParty{ID: "localhost", Name: "Keyhall", Origin: "http://localhost:8080"}
	assertion := virtualwebauthn.CreateAssertionResponse(rp, auth, *p.key, *opts)
	r, err = postSignIn(base, "/login/key/finish", "application/json", assertion, r.pending)
	if err != nil || r.status != http.StatusOK || !r.session {
		return fmt.Errorf("%s: POST /login/key/finish: %d %s (session %t), %v", p.name, r.status, r.body, r.session, err)
	}
	return nil
}

// signInWithApp signs p in through HTTP with her app's code and her
// password.
func (p *backupPerson) signInWithApp(base string) error {
	r, err := postSignIn(base, "/login", formType, url.Values{"username": {p.name}}.Encode(), "")
	if err != nil || r.status != http.StatusSeeOther || r.location != "/login/totp" {
		return fmt.Errorf("%s: POST /login: %d → %s, %v", p.name, r.status, r.location, err)
	}
	code, err := authn.TOTPCode(p.secret, time.Now())
	if err != nil {
		return err
	}
	r, err = postSignIn(base, "/login/totp", formType, url.Values{"code": {code}}.Encode(), r.pending)
	if err != nil || r.status != http.StatusSeeOther || r.location != "/login/password" {
		return fmt.Errorf("%s: POST /login/totp: %d → %s %s, %v", p.name, r.status, r.location, r.body, err)
	}
	r, err = postSignIn(base, "/login/password", formType, url.Values{"password": {backupPassword}}.Encode(), r.pending)
	if err != nil || r.status != http.StatusSeeOther || !r.session {
		return fmt.Errorf("%s: POST /login/password: %d → %s (session %t), %v", p.name, r.status, r.location, r.session, err)
	}
	return nil
}

// inventory lists, through the store, every person, credential (keys,
// apps, recovery codes) and active session, as "user:ID", "cred:ID",
// "session:HASH".
func inventory(t *testing.T, st authn.Store) []string {
	t.Helper()
	ctx := context.Background()
	users, err := st.ListUsers(ctx, authn.UserFilter{Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range users {
		out = append(out, "user:"+u.ID)
		creds, err := st.ListCredentials(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range creds {
			out = append(out, "cred:"+c.ID)
		}
		sessions, err := st.ListUserSessions(ctx, u.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sessions {
			out = append(out, "session:"+hex.EncodeToString(s.Hash[:]))
		}
	}
	slices.Sort(out)
	return out
}

// missing returns the entries of want that got lacks.
func missing(want, got []string) []string {
	var out []string
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			out = append(out, w)
		}
	}
	return out
}

// TestBackupRestoreUnderLoad is issue #16's test: serve runs on SQLite
// with people who have keys, apps and sessions; while they sign in
// through HTTP, keyhall admin backup (a process of its own) copies the
// database; the backup is restored into a new directory and serve started
// on it. Every person, key, app and session that existed when the backup
// began is there (and nothing that did not exist when it ended), the audit
// chain verifies, and a key and an app still sign in through HTTP.
func TestBackupRestoreUnderLoad(t *testing.T) {
	ctx := context.Background()
	a := newBackupSite(t)
	pa := a.serve(t)
	st := openTestStore(t, "sqlite://"+a.db)
	people := addBackupPeople(t, st, a.readKeys(t), 12)

	// Sign-ins as load: each worker signs its own person in, again and again.
	var (
		signIns atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		loadErr = make(chan error, 8)
	)
	for w := range 4 {
		p := people[w]
		wg.Go(func() {
			var lastStep int64 // an app's code is good once per time step: the next sign-in waits for the next step
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if p.key != nil {
					err = p.signInWithKey(pa.url(""))
				} else if step := authn.TOTPStep(time.Now()); step > lastStep {
					lastStep = step
					err = p.signInWithApp(pa.url(""))
				} else {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				if err != nil {
					loadErr <- err
					return
				}
				signIns.Add(1)
			}
		})
	}
	eventually(t, 30*time.Second, func() string {
		if signIns.Load() < 4 {
			return fmt.Sprintf("%d sign-ins under load so far", signIns.Load())
		}
		return ""
	})

	before := inventory(t, st)
	file := filepath.Join(t.TempDir(), "keyhall-backup.db")
	n0, start := signIns.Load(), time.Now()
	bp := startKeyhall(t, a.dir, a.env, "admin", "backup", file)
	<-bp.exited
	took, during := time.Since(start), signIns.Load()-n0
	after := inventory(t, st)
	close(stop)
	wg.Wait()
	select {
	case err := <-loadErr:
		t.Fatalf("a sign-in under load failed: %v", err)
	default:
	}
	if bp.code != 0 {
		t.Fatalf("admin backup: exit %d\n%s", bp.code, bp.out.String())
	}
	t.Logf("backup process took %v; %d sign-ins completed meanwhile", took.Round(time.Millisecond), during)
	if during == 0 {
		t.Errorf("no sign-in completed while the backup ran: the test did not back up under load")
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want mode 0600", err, fi.Mode())
	}
	evs, err := st.ListAudit(ctx, authn.AuditFilter{Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	created := slices.IndexFunc(evs, func(e authn.AuditEvent) bool { return e.Action == "backup.create" })
	if created < 0 || evs[created].Details["file"] != file || evs[created].Details["keys_fingerprint"] != a.readKeys(t).Fingerprint() {
		t.Fatalf("no audit event backup.create naming the file and the keys' fingerprint: %+v", evs[max(created, 0)])
	}

	// Restore into a new directory with the key file, and serve there.
	b := newBackupSite(t)
	raw, err := os.ReadFile(a.keys)
	if err != nil || os.WriteFile(b.keys, raw, 0o600) != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, b.env, 0, "admin", "restore", "--storage", "sqlite://"+b.db, file); !strings.Contains(out, "chain intact") {
		t.Errorf("admin restore said %q", out)
	}
	if out := mustRun(t, b.env, 0, "admin", "audit", "verify"); !strings.Contains(out, "chain intact") {
		t.Errorf("audit verify on the restored database: %q", out)
	}
	pb := b.serve(t)
	if len(pb.lines("created the first administrator")) != 0 || len(pb.lines("audit log damaged")) != 0 {
		t.Fatalf("serve on the restored database set up a new installation or found the audit log damaged:\n%s", pb.out.String())
	}
	stb := openTestStore(t, "sqlite://"+b.db)
	restored := inventory(t, stb)
	if m := missing(before, restored); len(m) > 0 {
		t.Errorf("%d of %d things that existed at the backup are not in the restored database: %v", len(m), len(before), m)
	}
	if m := missing(restored, after); len(m) > 0 {
		t.Errorf("the restored database has %d things that did not exist when the backup ended: %v", len(m), m)
	}
	t.Logf("%d people, credentials and sessions before the backup, %d restored, %d after", len(before), len(restored), len(after))
	last, err := stb.ListAudit(ctx, authn.AuditFilter{AfterSeq: 0, Limit: 100_000})
	if err != nil || len(last) == 0 || last[len(last)-1].Action != "backup.restore" {
		t.Errorf("the restored log does not end in backup.restore: %v", err)
	}

	// The keys and apps still sign in: one used under load (its count moved
	// on since the backup), one not.
	for _, p := range []*backupPerson{people[0], people[6], people[7]} {
		var err error
		if p.key != nil {
			err = p.signInWithKey(pb.url(""))
		} else {
			err = p.signInWithApp(pb.url(""))
		}
		if err != nil {
			t.Errorf("sign-in on the restored database: %v", err)
		}
	}
	if code := pb.stop(t); code != 0 {
		t.Errorf("serve on the restored database exited %d", code)
	}
	pa.stop(t)
}

// fileSum is the SHA-256 of the file at path, and the file's identity.
func fileSum(t *testing.T, path string) (string, os.FileInfo) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), fi
}

// TestRestoreRefuses: restore refuses, and leaves the database there as it
// was, while serve runs on it, with a key file that is not the backup's,
// and for a truncated or garbage file; a serve that crashed (SIGKILL)
// holds no lock, so restore then goes ahead. backup refuses to replace a
// file unless asked.
func TestRestoreRefuses(t *testing.T) {
	a := newBackupSite(t)
	pa := a.serve(t)
	file := filepath.Join(t.TempDir(), "keyhall.db.bak")
	mustRun(t, a.env, 0, "admin", "backup", file)
	if e := mustRun(t, a.env, 1, "admin", "backup", file); !strings.Contains(e, "exists") || !strings.Contains(e, "--replace") {
		t.Errorf("backup onto an existing file: %q", e)
	}
	mustRun(t, a.env, 0, "admin", "backup", "--replace", file)
	// --replace never replaces the live database, its files, or a file that
	// is not a database (the key file), under any name (review of #16).
	alias := filepath.Join(t.TempDir(), "alias.db")
	if err := os.Symlink(a.db, alias); err != nil {
		t.Fatal(err)
	}
	keysBefore, _ := os.ReadFile(a.keys)
	for _, target := range []string{a.db, a.db + "-wal", a.db + "-shm", a.db + ".lock", a.keys, alias} {
		_, before := fileSum(t, a.db)
		if e := mustRun(t, a.env, 1, "admin", "backup", "--replace", target); !strings.Contains(e, "not a place for a backup") {
			t.Errorf("backup --replace %s: %q", target, e)
		}
		if _, now := fileSum(t, a.db); !os.SameFile(before, now) {
			t.Fatalf("backup --replace %s replaced the live database", target)
		}
	}
	if keysAfter, _ := os.ReadFile(a.keys); !bytes.Equal(keysBefore, keysAfter) {
		t.Fatal("backup --replace changed the key file")
	}

	// The target: a second installation restored from the backup, serving.
	b := newBackupSite(t)
	raw, err := os.ReadFile(a.keys)
	if err != nil || os.WriteFile(b.keys, raw, 0o600) != nil {
		t.Fatal(err)
	}
	// A database the configuration names that does not exist (a relative
	// path, run from another directory) is not made up: the new place must
	// be named (review of #16).
	if e := mustRun(t, b.env, 1, "admin", "restore", file); !strings.Contains(e, "does not exist") || !strings.Contains(e, "--storage sqlite://"+b.db) {
		t.Errorf("restore into a database that does not exist, not named: %q", e)
	}
	if _, err := os.Stat(b.db); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused restore made %s: %v", b.db, err)
	}
	mustRun(t, b.env, 0, "admin", "restore", "--storage", "sqlite://"+b.db, file)
	pb := b.serve(t)
	_, fi := fileSum(t, b.db)
	if e := mustRun(t, b.env, 1, "admin", "restore", "--storage", "sqlite://"+b.db, file); !strings.Contains(e, "in use") || !strings.Contains(e, "stop it") {
		t.Errorf("restore while serve runs on the target: %q", e)
	}
	if _, now := fileSum(t, b.db); !os.SameFile(fi, now) {
		t.Fatal("a refused restore replaced the database serve was using")
	}
	// A crashed serve leaves its lock file, but holds no lock.
	pb.cmd.Process.Kill()
	<-pb.exited
	if _, err := os.Stat(b.db + ".lock"); err != nil {
		t.Fatalf("the lock file should outlive the crash (it is what is tested): %v", err)
	}
	sum, fi := fileSum(t, b.db)
	bad := map[string][]byte{"truncated": nil, "garbage": []byte("kein Backup\n")}
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad["truncated"] = good[:len(good)/2]
	wantMsg := map[string]string{"truncated": "cut short", "garbage": "not a SQLite database"}
	for name, content := range bad {
		f := filepath.Join(t.TempDir(), name+".db")
		if err := os.WriteFile(f, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if e := mustRun(t, b.env, 1, "admin", "restore", "--storage", "sqlite://"+b.db, f); !strings.Contains(e, wantMsg[name]) || !strings.Contains(e, "nothing was changed") {
			t.Errorf("restore of a %s file: %q, want it to say %q", name, e, wantMsg[name])
		}
	}
	// A backup whose audit log was changed: its chain does not verify.
	tampered := filepath.Join(t.TempDir(), "tampered.db")
	if err := os.WriteFile(tampered, good, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+tampered)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE audit_events SET reason = 'nichts' WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if e := mustRun(t, b.env, 1, "admin", "restore", "--storage", "sqlite://"+b.db, tampered); !strings.Contains(e, "audit chain does not verify") || !strings.Contains(e, "nothing was changed") {
		t.Errorf("restore of a backup whose audit log was changed: %q", e)
	} // A backup whose newest events were removed and its head moved back
	// to match: the chain verifies, but it is not what the backup recorded.
	cut := filepath.Join(t.TempDir(), "cut.db")
	if err := os.WriteFile(cut, good, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = sql.Open("sqlite", "file:"+cut)
	if err != nil {
		t.Fatal(err)
	}
	var events int
	if err := db.QueryRow("SELECT COUNT(*) FROM audit_events").Scan(&events); err != nil || events < 2 {
		t.Fatalf("the backup has %d audit events (%v): too few to cut one", events, err)
	}
	for _, q := range []string{"DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)",
		"UPDATE audit_head SET seq = seq - 1, hash = (SELECT hash FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events))"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	if e := mustRun(t, b.env, 1, "admin", "restore", "--storage", "sqlite://"+b.db, cut); !strings.Contains(e, "changed after the backup was made") || !strings.Contains(e, "nothing was changed") {
		t.Errorf("restore of a backup cut short of its recorded audit head: %q", e)
	}

	other := filepath.Join(t.TempDir(), "other.keys")
	var oc Config
	oc.Keys.File = other
	ok, err := loadKeys(oc, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	wrongEnv := []string{b.env[0], "KEYHALL_KEYS_FILE=" + other}
	e := mustRun(t, wrongEnv, 1, "admin", "restore", "--storage", "sqlite://"+b.db, file)
	if !strings.Contains(e, a.readKeys(t).Fingerprint()) || !strings.Contains(e, ok.Fingerprint()) || !strings.Contains(e, "key file") {
		t.Errorf("restore with another key file should name both fingerprints and the key file: %q", e)
	}
	if s, now := fileSum(t, b.db); s != sum || !os.SameFile(fi, now) {
		t.Fatal("a refused restore changed the database")
	}

	absent := filepath.Join(t.TempDir(), "keyhall.keys")
	e = mustRun(t, []string{b.env[0], "KEYHALL_KEYS_FILE=" + absent}, 1, "admin", "restore", "--storage", "sqlite://"+b.db, file)
	if !strings.Contains(e, "does not exist") || !strings.Contains(e, a.readKeys(t).Fingerprint()) {
		t.Errorf("restore without a key file should say so and name the backup's fingerprint: %q", e)
	}
	if _, err := os.Stat(absent); err == nil {
		t.Error("restore made a key file of its own")
	}
	if s, now := fileSum(t, b.db); s != sum || !os.SameFile(fi, now) {
		t.Fatal("a refused restore changed the database")
	}

	// After the crash, the restore goes ahead; the crashed database moves
	// aside whole, with its -wal (its newest writes), not deleted.
	walBefore, _ := os.ReadFile(b.db + "-wal")
	if out := mustRun(t, b.env, 0, "admin", "restore", "--storage", "sqlite://"+b.db, file); !strings.Contains(out, "keyhall.db.before-restore") {
		t.Errorf("restore did not say where the database it replaced is: %q", out)
	}
	if _, now := fileSum(t, b.db); os.SameFile(fi, now) {
		t.Fatal("restore did not put the backup in place")
	}
	if _, kept := fileSum(t, b.db+".before-restore"); !os.SameFile(fi, kept) {
		t.Error("the database restore replaced is not kept as keyhall.db.before-restore")
	}
	if walAside, _ := os.ReadFile(b.db + ".before-restore-wal"); len(walBefore) > 0 && !bytes.Equal(walBefore, walAside) {
		t.Error("the replaced database's -wal was not kept with it")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(b.db + suffix); err == nil {
			t.Errorf("the crashed database's %s file was left beside the restored one", suffix)
		}
	}
	pb2 := b.serve(t)
	pb2.stop(t)
	pa.stop(t)
}

// TestBackupPostgresPointsToPgDump: on PostgreSQL, backup and restore
// change nothing and say how to use pg_dump, the key file and the docs.
func TestBackupPostgresPointsToPgDump(t *testing.T) {
	env := []string{"KEYHALL_STORAGE=postgres://keyhall@127.0.0.1:1/keyhall"}
	for _, args := range [][]string{{"admin", "backup", "x.dump"}, {"admin", "restore", "x.dump"}} {
		e := mustRun(t, env, 1, args...)
		for _, want := range []string{"pg_dump -Fc", "key file", "pg_restore", "audit verify", "docs/backup.md"} {
			if !strings.Contains(e, want) {
				t.Errorf("keyhall %s on PostgreSQL: %q, want it to mention %q", strings.Join(args, " "), e, want)
			}
		}
	}
}

// TestBackupPostgresDocumented follows docs/backup.md on PostgreSQL: a
// pg_dump -Fc of a running installation, pg_restore into an empty
// database, keyhall admin audit verify, and serve on it with the key file:
// the people are there and no new installation is set up.
func TestBackupPostgresDocumented(t *testing.T) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("pg_dump is not installed (Debian package postgresql)")
		}
		t.Skip("pg_dump is not installed")
	}
	slices.Sort(bins) // the newest major version last, as pgtest picks it
	bin := filepath.Dir(bins[len(bins)-1])
	srv := pgtest.Shared(t)
	dir := t.TempDir()
	keys := "KEYHALL_KEYS_FILE=" + filepath.Join(dir, "keyhall.keys")
	from, to := srv.NewDatabase(t), srv.NewDatabase(t)
	p := startKeyhall(t, dir, []string{"KEYHALL_STORAGE=" + from, keys}, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p.url("/readyz"), "", 200))
	st := openTestStore(t, from)
	want := inventory(t, st)

	dump := filepath.Join(t.TempDir(), "keyhall.dump")
	for _, cmd := range [][]string{
		{"pg_dump", "--format=custom", "--file=" + dump, "--dbname=" + from},
		{"pg_restore", "--no-owner", "--dbname=" + to, dump},
	} {
		if out, err := exec.Command(filepath.Join(bin, cmd[0]), cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	}
	p.stop(t)
	env := []string{"KEYHALL_STORAGE=" + to, keys}
	if out := mustRun(t, env, 0, "admin", "audit", "verify"); !strings.Contains(out, "chain intact") {
		t.Errorf("audit verify after pg_restore: %q", out)
	}
	p2 := startKeyhall(t, dir, env, "serve", "--listen", "127.0.0.1:0")
	p2.listening(t)
	eventually(t, 30*time.Second, wantStatus(t, p2.url("/readyz"), "", 200))
	if len(p2.lines("created the first administrator")) != 0 {
		t.Error("serve on the restored database set up a new installation")
	}
	if m := missing(want, inventory(t, openTestStore(t, to))); len(m) > 0 {
		t.Errorf("not restored by pg_restore: %v", m)
	}
	p2.stop(t)
}
