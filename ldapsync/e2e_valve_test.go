package ldapsync_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

// valveEnv is a real slapd synced into a real SQLite store.
type valveEnv struct {
	t     *testing.T
	store *sqlstore.Store
	cfg   ldapsync.Config
}

func newValveEnv(t *testing.T, s *ldaptest.Slapd) *valveEnv {
	st, err := sqlstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "keyhall.db"), sqlstore.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := ldapsync.Config{Name: "ol", URL: s.URL, StartTLS: true, CAFile: s.CAFile,
		BindDN: ldaptest.SlapdSyncDN, BindPassword: ldaptest.SlapdSyncPassword,
		BaseDNs: []string{ldaptest.SlapdPeopleDN}, Preset: ldapsync.PresetOpenLDAP, Timeout: 2 * time.Second}
	return &valveEnv{t: t, store: st, cfg: cfg}
}

func (e *valveEnv) run() (ldapsync.Result, error) {
	s, err := ldapsync.NewSyncer(ldapsync.SyncConfig{Store: e.store, Directory: e.cfg, Logger: quiet()})
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Run(e.t.Context(), ldapsync.RunOptions{})
}

// active counts the people of the directory that are active in Keyhall.
func (e *valveEnv) active() int {
	e.t.Helper()
	us, err := e.store.ListUsers(e.t.Context(), authn.UserFilter{Limit: 100_000})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, u := range us {
		if u.Directory == "ol" && u.Status == authn.StatusActive {
			n++
		}
	}
	return n
}

// TestSyncSlapdPausedMidRead: slapd stopped (SIGSTOP) while the syncer is
// between pages of its read: the run fails within the request timeout (and
// within 30 s with the default one), is recorded as aborted, and nobody is
// disabled.
func TestSyncSlapdPausedMidRead(t *testing.T) {
	const n = 3000
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIFFile: writeLoadLDIF(t, n, 3)})
	e := newValveEnv(t, s)
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	if got := e.active(); got != n {
		t.Fatalf("%d people active after the first sync, want %d", got, n)
	}
	e.cfg.PageSize = 5
	// The test's timeout, and the default (10 s): the 30 s hold
	// with it too.
	for _, timeout := range []time.Duration{2 * time.Second, 0} {
		e.cfg.Timeout = timeout
		limit := 30 * time.Second
		if timeout > 0 {
			limit = timeout + 2*time.Second
		}
		type result struct {
			res ldapsync.Result
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		go func() {
			res, err := e.run()
			done <- result{res, err, time.Now()}
		}()
		time.Sleep(150 * time.Millisecond)
		s.Pause(t)
		paused := time.Now()
		r := <-done
		s.Resume(t)
		if r.at.Before(paused) {
			t.Fatalf("the run ended (%v) before the pause; give the test more people", r.err)
		}
		if !errors.Is(r.err, ldapsync.ErrAborted) || !r.res.Aborted {
			t.Fatalf("a run with slapd paused mid-read: %v (%+v)", r.err, r.res)
		}
		took := r.at.Sub(paused)
		t.Logf("timeout %v: failed %v after the pause: %v", timeout, took.Round(time.Millisecond), r.err)
		if took > limit {
			t.Errorf("timeout %v: the run failed %v after the pause, want within %v", timeout, took, limit)
		}
		if got := e.active(); got != n {
			t.Errorf("%d people active after the aborted run, want %d", got, n)
		}
		if st, err := e.store.GetDirectoryState(t.Context(), "ol"); err != nil || st.LastOutcome != "aborted" {
			t.Errorf("state: %+v, %v", st, err)
		}
	}
}

// TestSyncSlapdReadRightsLost: the sync account loses its read rights on
// the people (slapd's ACL; taken out of the group that may read): the read
// finds nobody, which the safety valve refuses; nobody is disabled. With
// the rights back, the next run is good again.
func TestSyncSlapdReadRightsLost(t *testing.T) {
	var ldif strings.Builder
	for i := range 12 {
		fmt.Fprintf(&ldif, "dn: uid=p%d,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: p%d\ncn: P\nsn: P\n\n", i, i)
	}
	ldif.WriteString("dn: cn=readers,dc=example,dc=org\nobjectClass: groupOfNames\ncn: readers\nmember: " + ldaptest.SlapdSyncDN + "\n")
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{LDIF: ldif.String(),
		ACL: `access to dn.children="ou=people,dc=example,dc=org" by group.exact="cn=readers,dc=example,dc=org" read by * none`})
	e := newValveEnv(t, s)
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	if e.active() != 12 {
		t.Fatalf("%d active after the first sync", e.active())
	}
	s.Modify(t, "cn=readers,dc=example,dc=org", map[string][]string{"member": {ldaptest.SlapdRootDN}})
	res, err := e.run()
	if !errors.Is(err, ldapsync.ErrAborted) || !res.Aborted {
		t.Fatalf("a run without read rights: %v (%+v)", err, res)
	}
	t.Logf("aborted: %s", res.AbortReason)
	if got := e.active(); got != 12 {
		t.Errorf("%d people active after the run without read rights, want 12", got)
	}
	s.Modify(t, "cn=readers,dc=example,dc=org", map[string][]string{"member": {ldaptest.SlapdSyncDN}})
	if res, err := e.run(); err != nil || len(res.Disabled) != 0 {
		t.Errorf("with the rights back: %v, disabled %v", err, res.Disabled)
	}
}
