package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// TestDirectoryKeySignInChecksLive (#13): a person synced from a real
// directory (slapd) signs in with her key and PIN alone; once the directory
// has locked her for good, after the last sync, the same sign-in is
// refused ("Ihr Zugang ist gesperrt") as soon as the verifier's answer of
// a minute ago has run out, without another sync.
func TestDirectoryKeySignInChecksLive(t *testing.T) {
	same := func(uid string) string { return uid }
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: peopleLDIF(same, func(uid string) string { return "pw-" + uid }, "lena", "s0", "s1")})
	dir := stadtDirectory(s)
	v, err := ldapsync.NewVerifier([]ldapsync.Config{dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	var mu sync.Mutex
	now := time.Now()
	v.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	later := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	f := newFixture(t, func(c *Config) { c.SignIn.Directory, c.SignIn.DirectoryStatus = v, v })

	syncer, err := ldapsync.NewSyncer(ldapsync.SyncConfig{Store: f.store, Directory: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncer.Run(t.Context(), ldapsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	lena, err := f.store.GetUserByUsername(t.Context(), "lena")
	if err != nil {
		t.Fatal(err)
	}
	key := f.newLoadKey(t, lena)
	c := newLoadClient(f)
	defer c.close()
	signIn := func() loadReply {
		t.Helper()
		r, err := c.form(0, "/login", url.Values{"username": {"lena"}, "return_to": {"/account"}}, "")
		if err != nil || r.status != http.StatusSeeOther || r.location != "/login/key" {
			t.Fatalf("POST /login: %d → %s, %v", r.status, r.location, err)
		}
		r, err = c.post(0, "/login/key/begin", "application/json", []byte("{}"), r.pending)
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("POST /login/key/begin: %d %s, %v", r.status, r.body, err)
		}
		assertion, err := key.assert("localhost", f.base, r.body)
		if err != nil {
			t.Fatal(err)
		}
		r, err = c.post(0, "/login/key/finish", "application/json", assertion, r.pending)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := signIn(); r.status != http.StatusOK || !r.session {
		t.Fatalf("key sign-in while enabled: %d %s", r.status, r.body)
	}
	s.Modify(t, "uid=lena,ou=people,dc=example,dc=org", map[string][]string{"pwdAccountLockedTime": {"000001010000Z"}})
	later(61 * time.Second)
	r := signIn()
	if r.status == http.StatusOK || r.session || !strings.Contains(string(r.body), "Ihr Zugang ist gesperrt") {
		t.Errorf("key sign-in after the directory locked her: %d (session %t) %s", r.status, r.session, r.body)
	}
}

// peopleLDIF is the LDIF of the people uids under ou=people, each with cn
// and sn from cn(uid) and, where password(uid) is not "", that password.
func peopleLDIF(cn, password func(uid string) string, uids ...string) string {
	var ldif strings.Builder
	for _, uid := range uids {
		fmt.Fprintf(&ldif, "dn: uid=%s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: S\n", uid, uid, cn(uid))
		if pw := password(uid); pw != "" {
			fmt.Fprintf(&ldif, "userPassword: %s\n", pw)
		}
		ldif.WriteString("\n")
	}
	return ldif.String()
}

// stadtDirectory is the directory "stadt" on s, read by the sync account
// over StartTLS under bases (default ou=people).
func stadtDirectory(s *ldaptest.Slapd, bases ...string) ldapsync.Config {
	if len(bases) == 0 {
		bases = []string{ldaptest.SlapdPeopleDN}
	}
	return ldapsync.Config{Name: "stadt", URL: s.URL, StartTLS: true, CAFile: s.CAFile,
		BindDN: ldaptest.SlapdSyncDN, BindPassword: ldaptest.SlapdSyncPassword,
		BaseDNs: bases, Preset: ldapsync.PresetOpenLDAP, Timeout: 3 * time.Second}
}
