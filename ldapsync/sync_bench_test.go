package ldapsync

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSync50k syncs 50,000 people in 500 groups (a Snapshot, no LDAP:
// the syncer's and the Store's share of the 30 s): the first run
// creates them all, the next ones find nothing changed.
//
//	CI=true go test ./ldapsync -run '^$' -bench Sync50k -benchtime 1x
func BenchmarkSync50k(b *testing.B) {
	const people, groups = 50_000, 500
	ps := make([]Person, people)
	for i := range ps {
		ps[i] = dirPerson(fmt.Sprintf("p%05d", i))
	}
	gs := make([]Group, groups)
	for g := range gs {
		gs[g] = Group{Name: fmt.Sprintf("g%03d", g), ExternalID: fmt.Sprintf("uuid-g%03d", g)}
		for i := g; i < people; i += groups {
			gs[g].Members = append(gs[g].Members, ps[i].ExternalID)
		}
	}
	for _, bk := range syncBackends {
		b.Run(bk.name, func(b *testing.B) {
			newDB := bk.start(b)
			e := newSyncEnv(b, newDB(b))
			e.reader.set(ps, gs...)
			start := time.Now()
			res := e.sync()
			created := time.Since(start)
			if len(res.Created) != people+groups {
				b.Fatalf("created %d", len(res.Created))
			}
			b.ResetTimer()
			for b.Loop() {
				if res := e.sync(); res.Unchanged != people {
					b.Fatalf("unchanged %d", res.Unchanged)
				}
			}
			b.ReportMetric(created.Seconds(), "s/create")
		})
	}
}
