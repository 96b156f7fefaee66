package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// benchWriters is how many goroutines write at once in the write benchmarks.
const benchWriters = 64

// benchStore opens a store of the dialect on a fresh database; PostgreSQL
// gets a cluster of its own with fsync on, so that commits are durable.
func benchStore(b *testing.B, dialect string) *Store {
	b.Helper()
	if dialect == dialectSQLite {
		return openURL(b, sqliteURL(b))
	}
	return openURL(b, pgtest.Start(b, pgtest.WithFsync()).NewDatabase(b))
}

func benchUser(b *testing.B, s *Store) authn.User {
	b.Helper()
	u := authn.User{ID: authn.NewID(), Username: "bench", Status: authn.StatusActive, Source: authn.SourceLocal}
	if err := s.CreateUser(context.Background(), u, authn.AuditEvent{Action: "user.create"}); err != nil {
		b.Fatal(err)
	}
	return u
}

var sessionSeq atomic.Uint64

// benchSession returns a new session of userID with a unique hash.
func benchSession(userID string) authn.Session {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], sessionSeq.Add(1))
	now := time.Now()
	return authn.Session{Hash: authn.SessionHash(sha256.Sum256(n[:])), UserID: userID, AMR: []string{"hwk", "pwd"},
		ACR: "phrh", AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(8 * time.Hour),
		ClientAddr: "192.0.2.1", UserAgent: "Mozilla/5.0 (benchmark)"}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkCreateSession: durable session creation from benchWriters
// goroutines at once (group commit).
func BenchmarkCreateSession(b *testing.B) {
	for _, dialect := range []string{dialectSQLite, dialectPostgres} {
		b.Run(dialect, func(b *testing.B) {
			s := benchStore(b, dialect)
			u := benchUser(b, s)
			b.SetParallelism(max(1, benchWriters/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.CreateSession(context.Background(), benchSession(u.ID)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}

// BenchmarkGetSession reads random sessions of a few thousand, through the
// database ("db", cache off) and through the cache ("cached").
func BenchmarkGetSession(b *testing.B) {
	for _, dialect := range []string{dialectSQLite, dialectPostgres} {
		b.Run(dialect, func(b *testing.B) {
			s := benchStore(b, dialect)
			hashes := preloadSessions(b, s, 5000)
			for _, mode := range []string{"db", "cached"} {
				b.Run(mode, func(b *testing.B) {
					cache := s.cache
					if mode == "db" {
						s.cache = nil
						defer func() { s.cache = cache }()
					}
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						r := rand.New(rand.NewPCG(rand.Uint64(), 0))
						for pb.Next() {
							if _, err := s.GetSession(context.Background(), hashes[r.IntN(len(hashes))]); err != nil {
								b.Error(err)
								return
							}
						}
					})
					reportRate(b)
				})
			}
		})
	}
}

// preloadSessions creates n sessions, from benchWriters goroutines.
func preloadSessions(b *testing.B, s *Store, n int) []authn.SessionHash {
	b.Helper()
	u := benchUser(b, s)
	hashes := make([]authn.SessionHash, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range benchWriters {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				sess := benchSession(u.ID)
				hashes[i] = sess.Hash
				if err := s.CreateSession(context.Background(), sess); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return hashes
}

// BenchmarkTouchSession: durable last-seen updates from benchWriters
// goroutines at once, each on a session of its own.
func BenchmarkTouchSession(b *testing.B) {
	for _, dialect := range []string{dialectSQLite, dialectPostgres} {
		b.Run(dialect, func(b *testing.B) {
			s := benchStore(b, dialect)
			hashes := preloadSessions(b, s, 1000)
			var worker atomic.Int64
			b.SetParallelism(max(1, benchWriters/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				h := hashes[int(worker.Add(1))%len(hashes)]
				at := time.Now()
				for pb.Next() {
					at = at.Add(time.Second)
					if err := s.TouchSession(context.Background(), h, at); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}
