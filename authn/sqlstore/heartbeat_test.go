package sqlstore

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestHeartbeat: a serve process's heartbeat is listed with its keys
// fingerprint until it ends or grows older than asked; the database's
// time is close to this machine's (the test's database runs here).
func TestHeartbeat(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := openURL(t, b.url(t))
			ctx := context.Background()
			now, err := s.Now(ctx)
			if err != nil || now.Sub(time.Now()).Abs() > 5*time.Second {
				t.Fatalf("the database's time: %v, %v; this machine's: %v", now, err, time.Now())
			}
			if err := s.Heartbeat(ctx, "p1", "fp-old"); err != nil {
				t.Fatal(err)
			}
			if err := s.Heartbeat(ctx, "p2", "fp-new"); err != nil {
				t.Fatal(err)
			}
			ps, err := s.ServeProcesses(ctx, time.Minute)
			if err != nil || len(ps) != 2 {
				t.Fatalf("serve processes: %+v, %v, want p1 and p2", ps, err)
			}
			if err := s.EndHeartbeat(ctx, "p1"); err != nil {
				t.Fatal(err)
			}
			if ps, err := s.ServeProcesses(ctx, time.Minute); err != nil || len(ps) != 1 || ps[0].ID != "p2" || ps[0].Fingerprint != "fp-new" {
				t.Errorf("after p1 ended: %+v, %v, want p2 with fp-new", ps, err)
			}
			time.Sleep(10 * time.Millisecond)
			if ps, err := s.ServeProcesses(ctx, time.Millisecond); err != nil || len(ps) != 0 {
				t.Errorf("heartbeats older than asked: %+v, %v, want none", ps, err)
			}
			// A crashed process's row, two days old, goes at the next
			// heartbeat of another.
			old := now.Add(-48 * time.Hour).UnixMicro()
			if err := s.PutSetting(ctx, heartbeatPrefix+"crashed", "fp-old "+strconv.FormatInt(old, 10)); err != nil {
				t.Fatal(err)
			}
			if err := s.Heartbeat(ctx, "p2", "fp-new"); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := s.Setting(ctx, heartbeatPrefix+"crashed"); err != nil || ok {
				t.Errorf("a crashed process's heartbeat of two days ago is still there: %q, %v", v, err)
			}
			if ps, err := s.ServeProcesses(ctx, time.Minute); err != nil || len(ps) != 1 || ps[0].ID != "p2" {
				t.Errorf("after the prune: %+v, %v, want p2", ps, err)
			}
		})
	}
}
