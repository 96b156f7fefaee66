package sqlstore

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/storetest"
)

func TestRetentionConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunRetention(t, func(t *testing.T) authn.Store { return openURL(t, b.url(t)) })
		})
	}
}

// BenchmarkRedactSignins: retention on an audit log of 100,000 events on
// SQLite, 80 % of them sign-ins (or refused ones) of 2,000 people, all
// old and before the checkpoint; a sign-in of others goes on meanwhile.
// One op is one whole RedactSignins.
func BenchmarkRedactSignins(b *testing.B) {
	const events, people = 100_000, 2_000
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		b.StopTimer()
		s := openURL(b, "sqlite://"+filepath.Join(b.TempDir(), "keyhall.db"))
		ctx := context.Background()
		batch := make([]authn.AuditEvent, 0, 1000)
		for i := range events {
			who := "user:" + strconv.Itoa(i%people)
			e := authn.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Actor: who, Action: "signin", Subject: who,
				ClientAddr: "203.0.113.9", Details: map[string]string{"amr": "hwk", "acr": "phr"}}
			switch i % 10 {
			case 1:
				e.Action = "signin.refused"
			case 2, 3:
				e.Action = "credential.rename"
			}
			if batch = append(batch, e); len(batch) == cap(batch) {
				if err := s.AppendAudit(ctx, batch...); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		head, _, err := s.AuditHead(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.NoteCheckpoint(ctx, head); err != nil {
			b.Fatal(err)
		}
		// Others sign in meanwhile: a session and a sign-in record each.
		u := authn.User{ID: authn.NewID(), Username: "bert", Status: authn.StatusActive, Source: authn.SourceLocal, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateUser(ctx, u, authn.AuditEvent{Time: t0, Actor: "system", Action: "user.create"}); err != nil {
			b.Fatal(err)
		}
		stop := make(chan struct{})
		var worst time.Duration
		var signins int
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				now := time.Now()
				sess := authn.Session{Hash: authn.HashSessionID([]byte(authn.NewID())), UserID: u.ID, AMR: []string{"hwk"}, ACR: "phr",
					AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := s.CreateSession(ctx, sess); err != nil {
					b.Error(err)
					return
				}
				if err := s.AppendAudit(ctx, authn.AuditEvent{Time: now, Actor: "user:" + u.ID, Action: "signin", Subject: "user:" + u.ID}); err != nil {
					b.Error(err)
					return
				}
				worst = max(worst, time.Since(now))
				signins++
				time.Sleep(10 * time.Millisecond)
			}
		})
		b.StartTimer()
		got, err := s.RedactSignins(ctx, t0.Add(365*24*time.Hour), authn.SigninActions,
			authn.AuditEvent{Time: t0.Add(400 * 24 * time.Hour), Actor: "system", Action: "audit.retention"})
		b.StopTimer()
		close(stop)
		wg.Wait()
		if err != nil || got.Redacted != events*8/10 {
			b.Fatalf("RedactSignins = %+v, %v", got, err)
		}
		b.ReportMetric(float64(worst.Milliseconds()), "worst-signin-ms")
		b.ReportMetric(float64(signins), "signins-meanwhile")
		b.StartTimer()
	}
}
