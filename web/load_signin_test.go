package web

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/keyhall/keyhall/authn"
)

// The load runs of the sign-in path, through the real handlers on
// 127.0.0.1 and a real SQLite store (synchronous=FULL, group commit). The
// client runs in the same process, so its CPU counts against the server's
// (the load tool is included). They run only when KEYHALL_LOAD=1:
//
//	KEYHALL_LOAD=1 go test ./web -run 'TestLoad(Key|Passkey)SignIn|TestLoadTOTPStep|TestLoadPasswordMemory' -v -count=1
//
// Each reports requests per second, p99 latency, the process's resident
// memory and the machine's load average before the run.

// loadWorkers is how many sign-ins run at once.
const loadWorkers = 64

// loadDuration is how long a timed phase runs (KEYHALL_LOAD_SECONDS).
func loadDuration() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("KEYHALL_LOAD_SECONDS")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 10 * time.Second
}

func skipUnlessLoad(t *testing.T) {
	t.Helper()
	if os.Getenv("KEYHALL_LOAD") != "1" {
		t.Skip("a load run; set KEYHALL_LOAD=1")
	}
}

// logLoadAvg logs the machine's load average, as uptime shows it: another
// build on the machine lowers every figure.
func logLoadAvg(t testing.TB, when string) {
	b, _ := os.ReadFile("/proc/loadavg")
	t.Logf("load average %s: %s", when, strings.TrimSpace(string(b)))
}

// loadClient sends the browser's requests to 127.0.0.1 over one keep-alive
// connection per worker, carrying the cookies by hand. It is a lean
// HTTP/1.1 client, as wrk is, so that the load tool's share of the two
// cores stays small: it writes each request whole and reads the response
// with net/http's parser.
type loadClient struct {
	addr  string      // 127.0.0.1:PORT
	conns []*loadConn // one per worker
}

// loadConn is one worker's connection, dialled on first use.
type loadConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func newLoadClient(f *fixture) *loadClient {
	return &loadClient{addr: "127.0.0.1:" + strings.TrimPrefix(f.base, "http://localhost:"), conns: make([]*loadConn, loadWorkers)}
}

// loadReply is what one request brought back.
type loadReply struct {
	status   int
	location string
	pending  string // the new pending cookie, if set
	session  bool   // a session cookie was set
	body     []byte
}

// post sends a POST from worker w (one request at a time per worker), with
// the pending sign-in's cookie if pending is set.
func (c *loadClient) post(w int, path, ctype string, body []byte, pending string) (loadReply, error) {
	var header string
	if pending != "" {
		header = "Cookie: " + PendingCookie + "=" + pending + "\r\n"
	}
	return c.send(w, path, ctype, body, header)
}

// send sends a POST from worker w with the header lines header (each
// ending in CRLF) and reads the whole reply.
func (c *loadClient) send(w int, path, ctype string, body []byte, header string) (loadReply, error) {
	lc := c.conns[w]
	if lc == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return loadReply{}, err
		}
		lc = &loadConn{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}
		c.conns[w] = lc
	}
	fmt.Fprintf(lc.w, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %d\r\n", path, ctype, len(body))
	lc.w.WriteString(header)
	lc.w.WriteString("\r\n")
	lc.w.Write(body)
	if err := lc.w.Flush(); err != nil {
		return loadReply{}, err
	}
	res, err := http.ReadResponse(lc.r, nil)
	if err != nil {
		return loadReply{}, err
	}
	r := loadReply{status: res.StatusCode, location: res.Header.Get("Location")}
	r.body, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return loadReply{}, err
	}
	for _, line := range res.Header["Set-Cookie"] {
		name, rest, _ := strings.Cut(line, "=")
		value, attrs, _ := strings.Cut(rest, ";")
		if strings.Contains(attrs, "Max-Age=0") {
			continue // a cookie being cleared
		}
		switch name {
		case PendingCookie:
			r.pending = value
		case SessionCookie:
			r.session = true
		}
	}
	return r, nil
}

func (c *loadClient) form(w int, path string, v url.Values, pending string) (loadReply, error) {
	return c.post(w, path, "application/x-www-form-urlencoded", []byte(v.Encode()), pending)
}

// close closes the workers' connections.
func (c *loadClient) close() {
	for _, lc := range c.conns {
		if lc != nil {
			lc.conn.Close()
		}
	}
}

// latencies collects the duration of each operation of a run.
type latencies struct {
	mu  sync.Mutex // guards all
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, d...)
}

// p99 returns the 99th percentile.
func (l *latencies) p99() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return 0
	}
	slices.Sort(l.all)
	return l.all[len(l.all)*99/100]
}

// rssPeak samples the resident memory every 10 ms until stop is called, and
// returns the highest sample in MiB.
func rssPeak() (stop func() int) {
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if r := int64(rssMiB()); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() int {
		close(done)
		wg.Wait()
		return int(peak.Load())
	}
}

// runLoad runs op from loadWorkers goroutines, each with its worker index
// and a running count, until d has passed (d > 0) or op reports that it has
// no more work. It returns the operations done, per second, and their p99.
func runLoad(t testing.TB, d time.Duration, op func(worker, i int) (bool, error)) (int, float64, time.Duration) {
	t.Helper()
	var (
		lat    latencies
		done   atomic.Int64
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range loadWorkers {
		wg.Go(func() {
			var mine []time.Duration
			defer func() { lat.add(mine) }()
			for i := 0; !failed.Load() && (d <= 0 || time.Now().Before(deadline)); i++ {
				t0 := time.Now()
				more, err := op(w, i)
				if err != nil {
					if failed.CompareAndSwap(false, true) {
						t.Errorf("worker %d, op %d: %v", w, i, err)
					}
					return
				}
				if !more {
					return
				}
				mine = append(mine, time.Since(t0))
				done.Add(1)
			}
		})
	}
	wg.Wait()
	n := int(done.Load())
	return n, float64(n) / time.Since(start).Seconds(), lat.p99()
}

// loadKey is a security key of the load run that verifies the person (PIN):
// its P-256 key pair, credential id and sign count. The load run answers
// for it with assert, which does what the key and the browser do and no
// more, so the load tool's share of the CPU stays small.
type loadKey struct {
	priv       *ecdsa.PrivateKey
	id         []byte // the credential id
	userHandle []byte
	count      uint32
}

// newLoadKey registers a key for u that verifies the person, so that the
// key alone signs her in.
func (f *fixture) newLoadKey(t testing.TB, u authn.User) *loadKey {
	t.Helper()
	var cred virtualwebauthn.Credential
	var priv *ecdsa.PrivateKey
	for {
		var err error
		if priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
		pub, _ := priv.PublicKey.Bytes()
		if pub[1] == 0 || pub[33] == 0 {
			continue // virtualwebauthn drops a coordinate's leading zero byte
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		cred = virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
		break
	}
	c := authn.Credential{
		ID: authn.NewID(), UserID: u.ID, Kind: authn.KindWebAuthn, Nickname: "YubiKey", CreatedAt: time.Now(),
		WebAuthnID: cred.ID, PublicKey: cred.Key.AttestationData(), AAGUID: make([]byte, 16),
		Transports: []string{"usb"}, AttestationFmt: "packed",
		Attested: true, // as a YubiKey registered with its attestation: the council's phrh admits it
	}
	if err := f.store.CreateCredential(context.Background(), c, f.audit("credential.create")); err != nil {
		t.Fatal(err)
	}
	return &loadKey{priv: priv, id: cred.ID, userHandle: []byte(u.ID)}
}

// assert answers the assertion options (PublicKeyCredentialRequestOptions
// as JSON) as the key and the browser would (WebAuthn L3 §6.3.3, §5.1.4):
// authenticator data for rpID with UP and UV set and the next sign count,
// the client data for origin, the ES256 signature over both, as
// credential.toJSON() gives them.
func (k *loadKey) assert(rpID, origin string, options []byte) ([]byte, error) {
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &opts); err != nil || opts.PublicKey.Challenge == "" {
		return nil, fmt.Errorf("assertion options without a challenge: %s", options)
	}
	k.count++
	rpHash := sha256.Sum256([]byte(rpID))
	authData := append(rpHash[:], 0x05, byte(k.count>>24), byte(k.count>>16), byte(k.count>>8), byte(k.count))
	clientData := []byte(`{"type":"webauthn.get","challenge":"` + opts.PublicKey.Challenge +
		`","origin":"` + origin + `","crossOrigin":false}`)
	cdHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(slices.Clip(authData), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return []byte(`{"id":"` + b64(k.id) + `","rawId":"` + b64(k.id) + `","type":"public-key",` +
		`"authenticatorAttachment":"cross-platform","clientExtensionResults":{},"response":{` +
		`"clientDataJSON":"` + b64(clientData) + `","authenticatorData":"` + b64(authData) +
		`","signature":"` + b64(sig) + `","userHandle":"` + b64(k.userHandle) + `"}}`), nil
}

// councilPolicy is the sign-in policy of the load runs, as a city sets it:
// the council ("rat") signs in with a hardware key that verifies the
// person; everyone else as they can. With a policy, every step also reads
// the person's groups.
func councilPolicy(c *Config) {
	c.SignIn.Policy = authn.Policy{Groups: map[string]authn.GroupPolicy{
		"rat": {Level: authn.LevelPhrh, UserVerification: true},
	}}
}

// addGroup creates the local group name with members.
func (f *fixture) addGroup(t testing.TB, name string, members ...authn.User) {
	t.Helper()
	ctx := context.Background()
	g := authn.Group{ID: authn.NewID(), Name: name, DisplayName: name, Source: authn.SourceLocal, CreatedAt: time.Now()}
	if err := f.store.CreateGroup(ctx, g, f.audit("group.create")); err != nil {
		t.Fatal(err)
	}
	for _, u := range members {
		if err := f.store.AddMember(ctx, g.ID, u.ID, f.audit("group.add_member")); err != nil {
			t.Fatal(err)
		}
	}
}

// councilKeys sets up the key runs: a server under the council policy and
// 64 people in the council ("rat000"…), each with her own key that verifies
// the person.
func councilKeys(t testing.TB, opts ...func(*Config)) (*fixture, []string, []*loadKey) {
	f := newFixture(t, append([]func(*Config){councilPolicy}, opts...)...)
	names := make([]string, loadWorkers)
	keys := make([]*loadKey, loadWorkers)
	council := make([]authn.User, loadWorkers)
	for i := range keys {
		names[i] = fmt.Sprintf("rat%03d", i)
		council[i] = f.addUser(names[i])
		keys[i] = f.newLoadKey(t, council[i])
	}
	f.addGroup(t, "rat", council...)
	return f, names, keys
}

// profileLoad writes a CPU profile of the measured part of a run, if
// KEYHALL_LOAD_CPUPROFILE is set, to that prefix, "-", name and ".prof"
// (go test's -cpuprofile would include the setup); the returned func stops
// it.
func profileLoad(t *testing.T, name string) (stop func()) {
	prefix := os.Getenv("KEYHALL_LOAD_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(prefix + "-" + name + ".prof")
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}
}

// measureLoad warms up with op for a second, then runs it for the run's
// time and logs what, the rate, p99 and the peak resident memory.
func measureLoad(t *testing.T, what string, op func(w, i int) (bool, error)) {
	runLoad(t, time.Second, op) // warm up: connections, caches
	logLoadAvg(t, "before the run")
	stop, prof := rssPeak(), profileLoad(t, t.Name())
	n, rate, p99 := runLoad(t, loadDuration(), op)
	prof()
	t.Logf("%s: %d in %v, %.0f/s, p99 %.1f ms, RSS peak %d MiB",
		what, n, loadDuration(), rate, float64(p99.Microseconds())/1000, stop())
}

// TestLoadKeySignIn runs complete security-key sign-ins through the
// handlers: POST /login, POST /login/key/begin, the key's signature, POST
// /login/key/finish (durable sign count, session issued), from 64 people
// at once, each with her own key whose count moves forward, all in the
// council, whose policy asks for a hardware key that verifies the person.
func TestLoadKeySignIn(t *testing.T) {
	skipUnlessLoad(t)
	f, names, keys := councilKeys(t)
	c := newLoadClient(f)
	defer c.close()
	measureLoad(t, "key sign-in with username (3 requests)", keySignIns(f, c, names, keys))
}

// keySignIns is the operation of TestLoadKeySignIn: worker w signs
// names[w] in with keys[w] (POST /login, /login/key/begin, the key's
// signature, /login/key/finish).
func keySignIns(f *fixture, c *loadClient, names []string, keys []*loadKey) func(w, i int) (bool, error) {
	return func(w, i int) (bool, error) {
		r, err := c.form(w, "/login", url.Values{"username": {names[w]}, "return_to": {"/account"}}, "")
		if err != nil || r.status != http.StatusSeeOther || r.location != "/login/key" {
			return false, fmt.Errorf("POST /login: %d → %s, %v", r.status, r.location, err)
		}
		r, err = c.post(w, "/login/key/begin", "application/json", []byte("{}"), r.pending)
		if err != nil || r.status != http.StatusOK {
			return false, fmt.Errorf("POST /login/key/begin: %d %s, %v", r.status, r.body, err)
		}
		assertion, err := keys[w].assert("localhost", f.base, r.body)
		if err != nil {
			return false, err
		}
		r, err = c.post(w, "/login/key/finish", "application/json", []byte(assertion), r.pending)
		if err != nil || r.status != http.StatusOK || !r.session {
			return false, fmt.Errorf("POST /login/key/finish: %d %s (session cookie %t), %v", r.status, r.body, r.session, err)
		}
		return true, nil
	}
}

// TestLoadPasskeySignIn runs the sign-in with the key alone, without a
// username ("Mit Sicherheitsschlüssel anmelden"): POST /login/passkey/begin
// (a new ceremony, stored durably), the key's signature with its user
// handle, POST /login/passkey/finish (the key looked up, durable sign
// count, session issued), as TestLoadKeySignIn, from 64 council members at
// once.
func TestLoadPasskeySignIn(t *testing.T) {
	skipUnlessLoad(t)
	f, _, keys := councilKeys(t)
	c := newLoadClient(f)
	defer c.close()
	measureLoad(t, "key sign-in without username (begin + finish)", func(w, i int) (bool, error) {
		r, err := c.post(w, "/login/passkey/begin", "application/json", []byte(`{"return_to":"/account"}`), "")
		if err != nil || r.status != http.StatusOK || r.pending == "" {
			return false, fmt.Errorf("POST /login/passkey/begin: %d %s, %v", r.status, r.body, err)
		}
		assertion, err := keys[w].assert("localhost", f.base, r.body)
		if err != nil {
			return false, err
		}
		r, err = c.post(w, "/login/passkey/finish", "application/json", []byte(assertion), r.pending)
		if err != nil || r.status != http.StatusOK || !r.session {
			return false, fmt.Errorf("POST /login/passkey/finish: %d %s (session cookie %t), %v", r.status, r.body, r.session, err)
		}
		return true, nil
	})
}

// totpPeople is how many people the app-code run has: enough that no code
// is ever used twice (each person signs in once in a run).
const totpPeople = 200_000

// bulkAddAppPeople inserts n active local people ("app000000"…), each with
// an authenticator app, straight into the database in transactions of
// 10,000 rows, and returns the apps' secrets. It skips the audit chain and
// the store's checks: it is a fixture for the load run only.
func (f *fixture) bulkAddAppPeople(t *testing.T, prefix string, n int) [][]byte {
	t.Helper()
	ctx := context.Background()
	db := f.store.DB()
	now := time.Now().UnixMicro()
	secrets := make([][]byte, n)
	// Each has the password loadPassword: an app code needs one after it.
	phc, err := authn.HashPassword(loadPassword, authn.Argon2Params{})
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 10_000
	for lo := 0; lo < n; lo += chunk {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		users, err := tx.PrepareContext(ctx, `INSERT INTO users (id, external_id, username, display_name, email,
			status, source, search_text, created_at, updated_at) VALUES ($1, '', $2, $3, '', $4, $5, $6, $7, $7)`)
		if err != nil {
			t.Fatal(err)
		}
		creds, err := tx.PrepareContext(ctx, `INSERT INTO credentials (id, user_id, kind, nickname, created_at,
			secret_sealed) VALUES ($1, $2, $3, 'App', $4, $5)`)
		if err != nil {
			t.Fatal(err)
		}
		passwords, err := tx.PrepareContext(ctx, `INSERT INTO passwords (user_id, phc, updated_at) VALUES ($1, $2, $3)`)
		if err != nil {
			t.Fatal(err)
		}
		for i := lo; i < min(lo+chunk, n); i++ {
			name := fmt.Sprintf("%s%06d", prefix, i)
			uid, cid := authn.NewID(), authn.NewID()
			secrets[i] = make([]byte, 20)
			rand.Read(secrets[i])
			sealed, err := authn.Seal(f.sealer, secrets[i], []byte(cid))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := users.ExecContext(ctx, uid, name, name, authn.StatusActive, authn.SourceLocal,
				name+"\n"+name+"\n", now); err != nil {
				t.Fatal(err)
			}
			if _, err := creds.ExecContext(ctx, cid, uid, authn.KindTOTP, now, sealed); err != nil {
				t.Fatal(err)
			}
			if _, err := passwords.ExecContext(ctx, uid, phc, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return secrets
}

// loadPassword is the password of the people bulkAddAppPeople adds.
const loadPassword = "Rathaus am Markt 1"

// appCode is the app's code now, as the person's phone computes it.
func appCode(secret []byte) (string, error) {
	return totp.GenerateCodeCustom(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret),
		time.Now(), totp.ValidateOpts{Period: authn.TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// TestLoadTOTPStep runs the app-code step through the handlers over 200,000
// people, each at most once, so that no code is replayed (replay
// protection stays on). First POST /login for as many people as it can in
// the run's time (the step before, measured too), then POST /login/totp
// for each of them (code checked, throttle counters read, durable replay
// mark, the next step's pending sign-in issued).
func TestLoadTOTPStep(t *testing.T) {
	skipUnlessLoad(t)
	f := newFixture(t, councilPolicy)
	start := time.Now()
	secrets := f.bulkAddAppPeople(t, "app", totpPeople)
	t.Logf("%d people with an app added in %v", totpPeople, time.Since(start).Round(time.Millisecond))
	c := newLoadClient(f)
	defer c.close()
	var next atomic.Int64
	pending := make([]string, totpPeople)
	begin := func(w, _ int) (bool, error) {
		i := int(next.Add(1) - 1)
		if i >= totpPeople {
			return false, nil
		}
		r, err := c.form(w, "/login", url.Values{"username": {fmt.Sprintf("app%06d", i)}}, "")
		if err != nil || r.status != http.StatusSeeOther || r.location != "/login/totp" {
			return false, fmt.Errorf("POST /login: %d → %s, %v", r.status, r.location, err)
		}
		pending[i] = r.pending
		return true, nil
	}
	runLoad(t, time.Second, begin) // warm up
	warm := int(next.Load())
	logLoadAvg(t, "before the run")
	stop := rssPeak()
	n, rate, p99 := runLoad(t, loadDuration(), begin)
	t.Logf("POST /login (app people): %d, %.0f/s, p99 %.1f ms", n, rate, float64(p99.Microseconds())/1000)
	started := min(int(next.Load()), totpPeople)
	var step atomic.Int64
	step.Store(int64(warm))
	check := func(w, _ int) (bool, error) {
		i := int(step.Add(1) - 1)
		if i >= started {
			return false, nil
		}
		code, err := appCode(secrets[i])
		if err != nil {
			return false, err
		}
		r, err := c.form(w, "/login/totp", url.Values{"code": {code}}, pending[i])
		if err != nil || r.status != http.StatusSeeOther || r.location != "/login/password" || r.pending == "" {
			return false, fmt.Errorf("POST /login/totp (person %d): %d → %s, %v", i, r.status, r.location, err)
		}
		return true, nil
	}
	prof := profileLoad(t, t.Name())
	n, rate, p99 = runLoad(t, 0, check)
	prof()
	t.Logf("app-code step: %d people, %.0f/s, p99 %.1f ms, RSS peak %d MiB",
		n, rate, float64(p99.Microseconds())/1000, stop())
}

// TestLoadPasswordMemory runs 64 password steps at once, with the default
// argon2id parameters (m=19456 KiB, t=2, p=1), three rounds, and samples
// the resident memory every 10 ms. The app-code step before each is done
// beforehand and not measured.
func TestLoadPasswordMemory(t *testing.T) {
	skipUnlessLoad(t)
	f := newFixture(t, func(c *Config) { c.SignIn.Argon2 = authn.Argon2Params{} })
	const people = 3 * loadWorkers
	secrets := f.bulkAddAppPeople(t, "pw", people)
	c := newLoadClient(f)
	defer c.close()
	pending := make([]string, people)
	for i := range people {
		r, err := c.form(0, "/login", url.Values{"username": {fmt.Sprintf("pw%06d", i)}}, "")
		if err != nil || r.location != "/login/totp" {
			t.Fatalf("POST /login: %d → %s, %v", r.status, r.location, err)
		}
		code, _ := appCode(secrets[i])
		r, err = c.form(0, "/login/totp", url.Values{"code": {code}}, r.pending)
		if err != nil || r.location != "/login/password" {
			t.Fatalf("POST /login/totp: %d → %s, %v", r.status, r.location, err)
		}
		pending[i] = r.pending
	}
	runtime.GC()
	logLoadAvg(t, "before the run")
	before := rssMiB()
	var next atomic.Int64
	stop := rssPeak()
	n, rate, p99 := runLoad(t, 0, func(w, _ int) (bool, error) {
		i := int(next.Add(1) - 1)
		if i >= people {
			return false, nil
		}
		r, err := c.form(w, "/login/password", url.Values{"password": {loadPassword}}, pending[i])
		if err != nil || r.status != http.StatusSeeOther || !r.session {
			return false, fmt.Errorf("POST /login/password: %d → %s (session %t), %v", r.status, r.location, r.session, err)
		}
		return true, nil
	})
	peak := stop()
	t.Logf("password step (64 at once, default argon2id): %d, %.1f/s, p99 %.0f ms; RSS %d MiB before, peak %d MiB",
		n, rate, float64(p99.Microseconds())/1000, before, peak)
	if peak >= 300 {
		t.Errorf("RSS peaked at %d MiB, want < 300", peak)
	}
}
