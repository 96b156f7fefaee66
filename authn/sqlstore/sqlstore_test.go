package sqlstore

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
	"github.com/keyhall/keyhall/authn/storetest"
)

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}

func TestDurabilitySettings(t *testing.T) {
	want := map[string]map[string]string{
		"sqlite":   {"synchronous": "2", "journal_mode": "wal", "foreign_keys": "1"},
		"postgres": {"synchronous_commit": "on", "fsync": "on"},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url
			if b.name == "postgres" { // a cluster that really syncs, as in production
				url = func(tb testing.TB) string { return pgtest.Start(tb, pgtest.WithFsync()).NewDatabase(tb) }
			}
			s := openURL(t, url(t))
			got, err := s.DurabilitySettings(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range want[b.name] {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			if err := s.IntegrityCheck(t.Context()); err != nil {
				t.Errorf("IntegrityCheck: %v", err)
			}
		})
	}
}

func TestSchemaTooNew(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			s, err := Open(t.Context(), url, quiet)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.DB().ExecContext(t.Context(), "UPDATE schema_version SET version = $1", knownSchemaVersion(s.Dialect())+1)
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			s, err = Open(t.Context(), url, quiet)
			if !errors.Is(err, authn.ErrSchemaTooNew) {
				if err == nil {
					s.Close()
				}
				t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	junk := make([]byte, 16384)
	rand.Read(junk)
	if err := os.WriteFile(garbage, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, url, mention string }{
		{"corrupt file", "sqlite://" + garbage, garbage},
		{"missing directory", "sqlite://" + filepath.Join(dir, "no/such/dir/k.db"), "no/such/dir/k.db"},
		{"not a path", "sqlite://", "not a file path"},
		{"unknown scheme", "mysql://localhost/k", `"mysql"`},
		{"unreachable postgres", "postgres://postgres:secret@127.0.0.1:1/k?sslmode=disable&connect_timeout=2", "127.0.0.1:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.Context(), c.url, quiet)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), c.mention) || strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q should mention %q (and never a password)", err, c.mention)
			}
		})
	}
}

// TestAuditTamper: changing a stored event breaks the chain at that event.
func TestAuditTamper(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openURL(t, b.url(t))
			ctx := t.Context()
			for i := range 3 {
				e := authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "test", Reason: "r" + string(rune('0'+i))}
				if err := s.AppendAudit(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			events, err := s.ListAudit(ctx, authn.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := authn.VerifyChain([32]byte{}, 0, events); err != nil {
				t.Fatalf("chain before tampering: %v", err)
			}
			if _, err := s.DB().ExecContext(ctx, "UPDATE audit_events SET reason = 'nothing happened' WHERE seq = 2"); err != nil {
				t.Fatal(err)
			}
			events, err = s.ListAudit(ctx, authn.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			_, seq, err := authn.VerifyChain([32]byte{}, 0, events)
			if err == nil || seq != 1 {
				t.Errorf("VerifyChain after tampering with event 2: verified to %d, err %v", seq, err)
			}
		})
	}
}

// TestBatchIsolation: writes that fail inside a batch (a session of an
// unknown person) do not fail the others committed with them.
func TestBatchIsolation(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openURL(t, b.url(t))
			ctx := t.Context()
			u := authn.User{ID: authn.NewID(), Username: "anna", Status: authn.StatusActive, Source: authn.SourceLocal}
			if err := s.CreateUser(ctx, u, authn.AuditEvent{Action: "user.create"}); err != nil {
				t.Fatal(err)
			}
			const n = 64
			errs := make([]error, n)
			sessions := make([]authn.Session, n)
			var wg sync.WaitGroup
			for i := range n {
				sessions[i] = testSession(u.ID)
				if i%8 == 0 {
					sessions[i].UserID = "nobody"
				}
				wg.Go(func() { errs[i] = s.CreateSession(ctx, sessions[i]) })
			}
			wg.Wait()
			for i, err := range errs {
				want := error(nil)
				if i%8 == 0 {
					want = authn.ErrNotFound
				}
				if !errors.Is(err, want) {
					t.Errorf("CreateSession %d: %v, want %v", i, err, want)
				}
				if _, err := s.GetSession(ctx, sessions[i].Hash); !errors.Is(err, want) {
					t.Errorf("GetSession %d: %v, want %v", i, err, want)
				}
			}
		})
	}
}

func testSession(userID string) authn.Session {
	id := make([]byte, 32)
	rand.Read(id)
	now := time.Now()
	return authn.Session{Hash: authn.HashSessionID(id), UserID: userID, AMR: []string{"pwd"},
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
}

// TestCloseDrains: every write acknowledged before or during Close is
// stored; writes after Close fail.
func TestCloseDrains(t *testing.T) {
	url := sqliteURL(t)
	s, err := Open(t.Context(), url, quiet)
	if err != nil {
		t.Fatal(err)
	}
	u := authn.User{ID: authn.NewID(), Username: "anna", Status: authn.StatusActive, Source: authn.SourceLocal}
	if err := s.CreateUser(t.Context(), u, authn.AuditEvent{Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	sessions := make([]authn.Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		sessions[i] = testSession(u.ID)
		wg.Go(func() { errs[i] = s.CreateSession(context.Background(), sessions[i]) })
	}
	time.Sleep(2 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := s.CreateSession(t.Context(), testSession(u.ID)); err == nil {
		t.Error("CreateSession after Close succeeded")
	}
	s = openURL(t, url)
	stored := 0
	for i, err := range errs {
		if err != nil {
			if !errors.Is(err, errClosed) {
				t.Errorf("write %d around Close: %v, want success or errClosed", i, err)
			}
			continue
		}
		stored++
		if _, err := s.GetSession(t.Context(), sessions[i].Hash); err != nil {
			t.Errorf("session %d acknowledged before Close: %v", i, err)
		}
	}
	if stored == 0 {
		t.Error("no write submitted before Close was committed: Close does not drain")
	}
	t.Logf("%d of %d writes were acknowledged around Close", stored, n)
}

// TestTwoStores: two stores on one database act as two processes: the
// audit chain stays one chain, a revocation made by one is seen by the
// other within authn.SessionCacheTTL, and starting both at once is safe.
func TestTwoStores(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			stores := make([]*Store, 2)
			var wg sync.WaitGroup
			for i := range stores {
				wg.Go(func() { stores[i] = openURL(t, url) })
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			s1, s2 := stores[0], stores[1]
			ctx := t.Context()
			for i := range 40 {
				wg.Go(func() {
					e := authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "test"}
					if err := stores[i%2].AppendAudit(ctx, e, e); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			events, err := s1.ListAudit(ctx, authn.AuditFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if _, seq, err := authn.VerifyChain([32]byte{}, 0, events); err != nil || seq != 80 {
				t.Errorf("chain written by two stores: verified to %d of 80: %v", seq, err)
			}

			u := authn.User{ID: authn.NewID(), Username: "anna", Status: authn.StatusActive, Source: authn.SourceLocal}
			if err := s1.CreateUser(ctx, u, authn.AuditEvent{Action: "user.create"}); err != nil {
				t.Fatal(err)
			}
			sess := testSession(u.ID)
			if err := s1.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			if _, err := s1.GetSession(ctx, sess.Hash); err != nil { // cached in s1
				t.Fatal(err)
			}
			if err := s2.RevokeSession(ctx, sess.Hash, time.Now()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(authn.SessionCacheTTL)
			got, err := s1.GetSession(ctx, sess.Hash)
			if err != nil || got.RevokedAt.IsZero() {
				t.Errorf("GetSession %v after another store revoked it: %+v, %v", authn.SessionCacheTTL, got, err)
			}
		})
	}
}

// TestPostgresGoesAway: while the server is down, calls fail with an error
// (no hang, no panic); when it is back, the same store works again.
func TestPostgresGoesAway(t *testing.T) {
	srv := pgtest.Start(t)
	s := openURL(t, srv.NewDatabase(t))
	ctx := t.Context()
	u := authn.User{ID: authn.NewID(), Username: "anna", Status: authn.StatusActive, Source: authn.SourceLocal}
	if err := s.CreateUser(ctx, u, authn.AuditEvent{Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping with the server stopped: no error")
	}
	if err := s.CreateSession(ctx, testSession(u.ID)); err == nil {
		t.Error("CreateSession with the server stopped: no error")
	}
	srv.Start(t)
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the server is back: %v", err)
	}
	if err := s.CreateSession(ctx, testSession(u.ID)); err != nil {
		t.Errorf("CreateSession after the server is back: %v", err)
	}
}

// TestCheckAuditHead: the head and the last event agree on an empty log and
// after appends; removing the last event, or changing its hash, is found.
func TestCheckAuditHead(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openURL(t, b.url(t))
			ctx := t.Context()
			if err := s.CheckAuditHead(ctx); err != nil {
				t.Fatalf("empty log: %v", err)
			}
			for i := range 3 {
				e := authn.AuditEvent{Time: time.Now(), Actor: "system", Action: "test", Reason: "r" + string(rune('0'+i))}
				if err := s.AppendAudit(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.CheckAuditHead(ctx); err != nil {
				t.Fatalf("after three events: %v", err)
			}
			if _, err := s.DB().ExecContext(ctx, "UPDATE audit_events SET hash = prev_hash WHERE seq = 3"); err != nil {
				t.Fatal(err)
			}
			if err := s.CheckAuditHead(ctx); err == nil || !strings.Contains(err.Error(), "audit verify") {
				t.Errorf("last event's hash changed: %v", err)
			}
			if _, err := s.DB().ExecContext(ctx, "DELETE FROM audit_events WHERE seq = 3"); err != nil {
				t.Fatal(err)
			}
			if err := s.CheckAuditHead(ctx); err == nil {
				t.Error("last event removed: not found")
			}
		})
	}
}
