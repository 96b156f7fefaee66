package sqlstore

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// crashChildEnv names the database a child process of TestCrash writes to.
const crashChildEnv = "SQLSTORE_CRASH_CHILD"

// crashUser is the person the child's sessions belong to.
const crashUser = "crashuserid00000000000000a"

// crashChild writes sessions and audit events from 64 goroutines as fast as
// it can and reports each one on stdout only after the store acknowledged
// it: "s <hash>" for a session, "a <action>" for an audit event. It runs
// until it is killed.
func crashChild(url string) {
	ctx := context.Background()
	st, err := Open(ctx, url, quiet)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	now := time.Now().UTC()
	u := authn.User{ID: crashUser, Username: "crash", Status: authn.StatusActive, Source: authn.SourceLocal,
		CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, u, authn.AuditEvent{Time: now, Actor: "test", Action: "user.create"}); err != nil {
		fmt.Fprintln(os.Stderr, "create user:", err)
		os.Exit(3)
	}
	var mu sync.Mutex // guards out
	out := bufio.NewWriter(os.Stdout)
	report := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		out.WriteString(line + "\n")
		out.Flush()
	}
	fmt.Println("ready")
	for g := range 64 {
		go func() {
			for i := 0; ; i++ {
				if g%8 == 0 {
					action := fmt.Sprintf("crash.%d.%d", g, i)
					if st.AppendAudit(ctx, authn.AuditEvent{Time: time.Now(), Actor: "test", Action: action}) == nil {
						report("a " + action)
					}
					continue
				}
				id := make([]byte, 32)
				rand.Read(id)
				s := testSession(crashUser)
				s.Hash = authn.HashSessionID(id)
				if st.CreateSession(ctx, s) == nil {
					report("s " + hex.EncodeToString(s.Hash[:]))
				}
			}
		}()
	}
	select {}
}

// TestCrash: every write acknowledged before a SIGKILL is there after a
// restart, and the database passes its integrity check.
func TestCrash(t *testing.T) {
	for _, b := range []struct {
		name string
		url  func(tb testing.TB) string
	}{
		{"sqlite", sqliteURL},
		{"postgres", func(tb testing.TB) string { return pgtest.Start(tb, pgtest.WithFsync()).NewDatabase(tb) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			sessions, actions := runAndKill(t, url, 1500*time.Millisecond)
			if len(sessions) < 100 || len(actions) < 10 {
				t.Fatalf("the child acknowledged only %d sessions and %d audit events before the kill", len(sessions), len(actions))
			}
			t.Logf("%d sessions and %d audit events acknowledged before SIGKILL", len(sessions), len(actions))

			st := openURL(t, url)
			ctx := context.Background()
			if err := st.IntegrityCheck(ctx); err != nil {
				t.Fatalf("integrity check after the kill: %v", err)
			}
			for _, h := range sessions {
				if _, err := st.GetSession(ctx, h); err != nil {
					t.Fatalf("acknowledged session %x is gone after the kill: %v", h[:4], err)
				}
			}
			found := map[string]bool{}
			var prev [32]byte
			var seq int64
			for {
				page, err := st.ListAudit(ctx, authn.AuditFilter{AfterSeq: seq, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				if prev, seq, err = authn.VerifyChain(prev, seq, page); err != nil {
					t.Fatalf("audit chain after the kill: %v", err)
				}
				for _, e := range page {
					found[e.Action] = true
				}
			}
			for _, a := range actions {
				if !found[a] {
					t.Fatalf("acknowledged audit event %s is gone after the kill", a)
				}
			}
		})
	}
}

// runAndKill runs crashChild on url, lets it write for d, kills it with
// SIGKILL and returns what it acknowledged.
func runAndKill(t *testing.T, url string, d time.Duration) (sessions []authn.SessionHash, actions []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+url)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "ready" {
			t.Fatalf("child said %q, want ready", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child did not start")
	}
	kill := time.After(d)
	for {
		select {
		case <-kill:
			cmd.Process.Signal(syscall.SIGKILL)
			kill = nil
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				return sessions, actions
			}
			switch {
			case len(l) == 66 && l[:2] == "s ":
				var h authn.SessionHash
				if _, err := hex.Decode(h[:], []byte(l[2:])); err != nil {
					t.Fatalf("child line %q: %v", l, err)
				}
				sessions = append(sessions, h)
			case len(l) > 2 && l[:2] == "a ":
				actions = append(actions, l[2:])
			}
			// A line cut off by the kill matches neither and is ignored.
		}
	}
}
