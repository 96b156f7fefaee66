package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
)

// heartbeatEvery is how often a serve process records which keys it runs
// with (sqlstore.Heartbeat); heartbeatFresh is how long after its last one
// admin keys rotate-encryption still counts it as running.
const (
	heartbeatEvery = 15 * time.Second
	heartbeatFresh = time.Minute
)

// startHeartbeat records, every heartbeatEvery while serve runs, that this
// process runs with keys (their fingerprint), and removes the record when it
// stops: rotate-encryption refuses while a process with other keys runs.
func startHeartbeat(ctx context.Context, bg *sync.WaitGroup, st *sqlstore.Store, keys Keys, logger *slog.Logger) {
	id, fp := authn.NewID(), keys.Fingerprint()
	beat := func() {
		if err := st.Heartbeat(ctx, id, fp); err != nil && ctx.Err() == nil {
			logger.Warn("cannot record this process's keys fingerprint (heartbeat)", "err", err)
		}
	}
	beat() // the first before this process is ready
	bg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				end, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				if err := st.EndHeartbeat(end, id); err != nil {
					logger.Debug("remove heartbeat", "err", err)
				}
				return
			case <-time.After(heartbeatEvery):
				beat()
			}
		}
	})
}
