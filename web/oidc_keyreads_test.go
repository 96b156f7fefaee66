package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/authn/sqlstore"
	"github.com/keyhall/keyhall/authn/sqlstore/pgtest"
)

// keyReadCounter is the real store, counting its reads of the signing keys
// (OIDCSigningKeys); while gate is set, each read, once it has read,
// waits until the gate is closed before it answers (a slow database).
type keyReadCounter struct {
	*sqlstore.Store
	reads atomic.Int64
	mu    sync.Mutex
	gate  chan struct{}
}

func (c *keyReadCounter) OIDCSigningKeys(ctx context.Context) ([]authn.OIDCSigningKey, error) {
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	keys, err := c.Store.OIDCSigningKeys(ctx)
	c.reads.Add(1)
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return keys, err
}

// setGate makes the reads wait from now until the returned func is called.
func (c *keyReadCounter) setGate() (open func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gate := make(chan struct{})
	c.gate = gate
	return func() {
		c.mu.Lock()
		c.gate = nil
		c.mu.Unlock()
		close(gate)
	}
}

// keyReadsEnv is a second process (the first is e, which rotates) whose
// store counts its key reads, served over HTTP; arrived counts the
// requests that reached it.
type keyReadsEnv struct {
	e        *oidcEnv
	counter  *keyReadCounter
	url      string
	client   *http.Client
	arrived  atomic.Int64
	answered atomic.Int64 // requests the second process has finished
}

func newKeyReadsEnv(t testing.TB, storage ...string) *keyReadsEnv {
	t.Helper()
	if len(storage) == 0 {
		storage = []string{"sqlite://" + t.TempDir() + "/keyhall.db"}
	}
	k := &keyReadsEnv{e: newOIDCEnvOn(t, storage[0], nil)}
	other := secondProvider(t, k.e, storage[0], func(st *sqlstore.Store) authn.Store {
		k.counter = &keyReadCounter{Store: st}
		return k.counter
	})
	host := k.e.issuer[len("http://"):]
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.arrived.Add(1)
		r.Host = host // as the public URL names it
		other.ServeHTTP(w, r)
		k.answered.Add(1)
	}))
	t.Cleanup(ts.Close)
	k.url = ts.URL
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	t.Cleanup(tr.CloseIdleConnections)
	k.client = &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return k
}

// get fetches path from the second process and returns status and body.
func (k *keyReadsEnv) get(path string) (int, []byte, error) {
	resp, err := k.client.Get(k.url + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// kids fetches the second process's JWKS and returns its key IDs.
func (k *keyReadsEnv) kids(t testing.TB) []string {
	t.Helper()
	status, body, err := k.get(oidcKeysPath)
	var set jose.JSONWebKeySet
	if err != nil || status != http.StatusOK || json.Unmarshal(body, &set) != nil {
		t.Fatalf("JWKS: %d, %v\n%s", status, err, body)
	}
	var kids []string
	for _, key := range set.Keys {
		kids = append(kids, key.KeyID)
	}
	return kids
}

// burst sends n requests for path at once while the key reads are held,
// lets the reads go once all n have arrived and a while more, and returns
// how many reads they cost.
func (k *keyReadsEnv) burst(t *testing.T, n int, path func(i int) string, check func(status int, body []byte) error) int64 {
	t.Helper()
	open := k.counter.setGate()
	before, arrivedBefore := k.counter.reads.Load(), k.arrived.Load()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			status, body, err := k.get(path(i))
			if err == nil {
				err = check(status, body)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); k.arrived.Load()-arrivedBefore < int64(n) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // from the handler to the key reads
	open()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return k.counter.reads.Load() - before
}

// TestOIDCJWKSReadsCoalesced: the JWKS needs no sign-in, so anyone can ask
// for it as often as they like. However many ask at once, the database is
// read at most twice (one read in flight, one that all who came during it
// share), and each gets every key.
func TestOIDCJWKSReadsCoalesced(t *testing.T) {
	k := newKeyReadsEnv(t)
	want := k.kids(t)
	const n = 64
	reads := k.burst(t, n, func(int) string { return oidcKeysPath }, func(status int, body []byte) error {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil || status != http.StatusOK || len(set.Keys) != len(want) {
			return fmt.Errorf("JWKS during the burst: %d, %v\n%s", status, err, body)
		}
		return nil
	})
	t.Logf("%d concurrent JWKS requests read the keys %d times", n, reads)
	if reads > 2 {
		t.Errorf("%d concurrent JWKS requests read the keys %d times, want at most 2", n, reads)
	}
}

// TestOIDCHintUnknownKidReadsBounded: an id_token_hint with a made-up kid
// (end_session, prompt=none; no sign-in needed) costs no more reads than a
// JWKS request: many at once read the keys at most twice.
func TestOIDCHintUnknownKidReadsBounded(t *testing.T) {
	k := newKeyReadsEnv(t)
	k.kids(t)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const n = 64
	hints := make([]string, n)
	for i := range hints {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", authn.NewID()))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().Unix()
		claims, _ := json.Marshal(map[string]any{"iss": k.e.issuer, "sub": "x", "aud": "wiki", "iat": now, "exp": now + 300})
		jws, err := signer.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		if hints[i], err = jws.CompactSerialize(); err != nil {
			t.Fatal(err)
		}
	}
	reads := k.burst(t, n, func(i int) string {
		q := url.Values{"id_token_hint": {hints[i]}, "post_logout_redirect_uri": {"https://wiki.example/bye"}}
		return oidcEndSessionPath + "?" + q.Encode()
	}, func(status int, body []byte) error {
		if status == http.StatusOK || status >= 500 {
			return fmt.Errorf("end_session with a made-up kid: %d, want it refused\n%s", status, body)
		}
		return nil
	})
	t.Logf("%d concurrent hints with made-up kids read the keys %d times", n, reads)
	if reads > 2 {
		t.Errorf("%d concurrent hints with made-up kids read the keys %d times, want at most 2", n, reads)
	}
}

// TestOIDCJWKSFreshUnderLoad: while the JWKS is asked for without pause,
// a key made active by another process is in this process's JWKS for the
// first request after the rotation, every time: sharing reads never serves
// one older than the request.
func TestOIDCJWKSFreshUnderLoad(t *testing.T) {
	k := newKeyReadsEnv(t)
	k.kids(t)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				k.get(oidcKeysPath)
			}
		})
	}
	defer func() { stop(); wg.Wait() }()
	for range 5 {
		time.Sleep(20 * time.Millisecond)
		newKid := rotateKey(t, k.e.st, k.e.srv.oidc.cfg.EncryptionKey, k.e.clock.Now())
		if got := k.kids(t); !slices.Contains(got, newKid) {
			t.Fatalf("JWKS right after a rotation by another process: %v, want the new key %s", got, newKid)
		}
	}
}

// TestOIDCJWKSNotOlderThanRequest: a JWKS request that comes while a read
// of the keys is in flight, and after a rotation that read did not see,
// is not answered with that read: it gets the new key.
func TestOIDCJWKSNotOlderThanRequest(t *testing.T) {
	k := newKeyReadsEnv(t)
	k.kids(t)
	open := k.counter.setGate()
	defer func() {
		if open != nil {
			open()
		}
	}()
	before := k.counter.reads.Load()
	early := make(chan []string, 1)
	go func() { early <- k.kids(t) }()
	for deadline := time.Now().Add(10 * time.Second); k.counter.reads.Load() == before && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
	// A read is in flight; it read the keys before this rotation.
	newKid := rotateKey(t, k.e.st, k.e.srv.oidc.cfg.EncryptionKey, k.e.clock.Now())
	arrived := k.arrived.Load()
	late := make(chan []string, 1)
	go func() { late <- k.kids(t) }()
	for deadline := time.Now().Add(10 * time.Second); k.arrived.Load() == arrived && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // from the handler to the key reads
	open()
	open = nil
	<-early
	if got := <-late; !slices.Contains(got, newKid) {
		t.Errorf("JWKS asked for after a rotation, while an older read was in flight: %v, want the new key %s", got, newKid)
	}
}

// TestOIDCJWKSWaitEndsWithRequest: a JWKS request that waits for a shared
// read of a slow database stops waiting when it ends (its client gave up);
// the read goes on and answers the others.
func TestOIDCJWKSWaitEndsWithRequest(t *testing.T) {
	k := newKeyReadsEnv(t)
	k.kids(t)
	open := k.counter.setGate()
	defer func() {
		if open != nil {
			open()
		}
	}()
	answered := k.answered.Load()
	impatient := &http.Client{Transport: k.client.Transport, Timeout: 200 * time.Millisecond}
	if resp, err := impatient.Get(k.url + oidcKeysPath); err == nil {
		resp.Body.Close()
		t.Fatalf("JWKS answered %d while the key read is held", resp.StatusCode)
	}
	deadline := time.Now().Add(3 * time.Second)
	for k.answered.Load() == answered && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if k.answered.Load() == answered {
		t.Error("the JWKS request still waits for the key read 3 s after its client gave up")
	}
	waiting := make(chan []string, 1)
	go func() { waiting <- k.kids(t) }()
	time.Sleep(100 * time.Millisecond)
	open()
	open = nil
	if got := <-waiting; len(got) == 0 {
		t.Error("a JWKS request after the one that gave up got no keys")
	}
}

// BenchmarkJWKSConcurrent: JWKS requests from many clients at once over
// HTTP, on SQLite and on PostgreSQL; reports the key reads per request.
func BenchmarkJWKSConcurrent(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchJWKS(b, newKeyReadsEnv(b)) })
	b.Run("postgres", func(b *testing.B) { benchJWKS(b, newKeyReadsEnv(b, pgtest.Shared(b).NewDatabase(b))) })
}

func benchJWKS(b *testing.B, k *keyReadsEnv) {
	k.kids(b)
	before := k.counter.reads.Load()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if status, _, err := k.get(oidcKeysPath); err != nil || status != http.StatusOK {
				b.Errorf("JWKS: %d, %v", status, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(k.counter.reads.Load()-before)/float64(b.N), "reads/op")
}
