package authn

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// waUser is a person as go-webauthn sees her. Her user handle is
// []byte(User.ID).
type waUser struct {
	id          []byte
	name        string
	credentials []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return u.id }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.name }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

// toWebAuthn is the credential record of WebAuthn L3 §4 for c, without
// its transports: sign-in names none (see keyUser).
func toWebAuthn(c Credential) webauthn.Credential {
	return webauthn.Credential{
		ID: c.WebAuthnID, PublicKey: c.PublicKey, AttestationFormat: c.AttestationFmt,
		Flags:         webauthn.CredentialFlags{UserPresent: true, BackupEligible: c.BackupEligible},
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}

// allowListLen is how many entries the allowCredentials of a key ceremony
// has at least: a person's keys, padded with deterministic fake ids. So
// the options tell nothing about who exists, or how many keys up to this
// she has (WebAuthn L3 §14.6.2). A person with more keys gets them all
// (a key left out of the list could not sign her in), and so, for as
// many unknown names as there are such people, does an unknown name
// (keyUser). The browser asks the authenticator about a long list in
// batches, so the padding costs no touch.
const allowListLen = 4

// keyUser is the person of a pending sign-in with the keys she may use
// (cloned ones left out of allowCredentials, kept for the lookup), padded
// to allowListLen entries with deterministic fake credential ids
// (fakeCredentialIDs), in an order derived from the ids, so that a real
// key's place does not tell either. An unknown username or a person
// without keys gets a stand-in with only fake ids, as many as a person
// drawn (by the name, with spread.draw, which a change of the
// installation's keys moves for few names) from the installation's people
// with keys has, allowListLen at least. No entry names transports: a key's own would
// tell a real one from a fake one, and they are only hints (WebAuthn L3
// §5.8.3); the browser then offers every transport.
func (s *SignIn) keyUser(p Pending, creds []Credential) *waUser {
	u := &waUser{id: []byte(p.UserID), name: p.Username}
	for _, c := range creds {
		if c.Kind == KindWebAuthn && !c.Cloned {
			u.credentials = append(u.credentials, toWebAuthn(c))
		}
	}
	lengths, perPerson := s.keySpread()
	want := allowListLen
	if len(u.credentials) == 0 {
		// A stand-in id as long as a real one: the ceremony is sealed into
		// the pending id, whose length must not tell.
		u.id = []byte(fakeUserID(s.fakeKey, p.Username))
		want = max(want, perPerson.atLeast(allowListLen).draw(s.fakeKey, "keys", p.Username, 0, 0))
	}
	for _, id := range fakeCredentialIDs(s.fakeKey, p.Username, lengths, want-len(u.credentials)) {
		u.credentials = append(u.credentials, webauthn.Credential{ID: id})
	}
	order := func(id []byte) []byte {
		h := hmac.New(sha256.New, s.fakeKey)
		h.Write([]byte("order\x00"))
		h.Write(id)
		return h.Sum(nil)
	}
	slices.SortFunc(u.credentials, func(a, b webauthn.Credential) int { return bytes.Compare(order(a.ID), order(b.ID)) })
	return u
}

// fakeUserID derives an id (as NewID makes them) from username, for the
// stand-in of keyUser.
func fakeUserID(key []byte, username string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("user id\x00"))
	h.Write([]byte(username))
	return idEncoding.EncodeToString(h.Sum(nil)[:16])
}

// fakeMAC is HMAC-SHA256(key, purpose ‖ 0 ‖ username ‖ 0 ‖ i), a
// deterministic draw for a fake ceremony.
func fakeMAC(key []byte, purpose, username string, i int) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(purpose + "\x00" + username + "\x00"))
	h.Write([]byte{byte(i)})
	return h.Sum(nil)
}

// valueCount is how often one value occurs: keys with ids of that many
// bytes, or people with that many keys.
type valueCount struct{ value, count int }

// spread is how values are spread, by value.
type spread []valueCount

// spreadOf returns the spread of counts (value → how often).
func spreadOf(counts map[int]int) spread {
	var s spread
	for v, c := range counts {
		if c > 0 {
			s = append(s, valueCount{value: v, count: c})
		}
	}
	slices.SortFunc(s, func(a, b valueCount) int { return a.value - b.value })
	return s
}

// draw picks a value of s for the draw (key, purpose, username, i), each
// value as often as it occurs; def when s is empty. It is a weighted
// rendezvous draw: every value gets the score -ln(u)/count, u uniform in
// (0, 1] from fakeMAC(key, purpose ‖ value, username, i), and the lowest
// score wins. So the draw of a name depends on the spread only as far as it
// must: when the spread changes, a name's draw changes only to a value
// whose share grew, from one whose share shrank, for no more of the names
// than the shares moved (a key registered among N moves them by about
// 1/N). A modulo of the total (the draw before) picked anew for almost
// every name at each key registered or removed, while a person's real
// keys stay: a watcher asking twice told real names from unknown ones.
func (s spread) draw(key []byte, purpose, username string, i, def int) int {
	best, bestScore := def, math.Inf(1)
	for _, vc := range s {
		if vc.count <= 0 {
			continue
		}
		mac := fakeMAC(key, fmt.Sprintf("%s\x00%d", purpose, vc.value), username, i)
		u := (float64(binary.BigEndian.Uint64(mac)>>11) + 1) / (1 << 53) // (0, 1]
		if score := -math.Log(u) / float64(vc.count); score < bestScore {
			best, bestScore = vc.value, score
		}
	}
	return best
}

// atLeast is s with the values below n counted as n: a draw that only
// matters from n on (a list has allowListLen entries at least) then does
// not change when people's smaller numbers of keys do.
func (s spread) atLeast(n int) spread {
	out := spread{{value: n}}
	for _, vc := range s {
		if vc.value <= n {
			out[0].count += vc.count
		} else {
			out = append(out, vc)
		}
	}
	return out
}

// fakeCredentialIDs derives count credential ids from username, always the
// same for the same name and lengths, so that asking twice gives the same
// answer (WebAuthn L3 §14.6.2 "username enumeration": deterministic). The
// length of each is drawn from lengths, the installation's keys' (draw
// "length"), so that a real key of a rarer length among fake ones does not
// stand out; the draw is stable, so that a name's fake ids stay when keys
// are registered or removed elsewhere, as a real person's real ids do
// (an id's length changes only with a chance as large as the shares
// moved, about 1/N for a key registered among N);
// its bytes are HMAC-SHA256(key, username ‖ 0 ‖ i ‖ block), as many
// blocks as it needs.
func fakeCredentialIDs(key []byte, username string, lengths spread, count int) [][]byte {
	ids := make([][]byte, max(count, 0))
	for i := range ids {
		n := lengths.draw(key, "length", username, i+1, 32)
		n = min(max(n, 16), 1023) // the lengths WebAuthn allows, and no less than 16
		id := make([]byte, 0, n+sha256.Size)
		for block := byte(0); len(id) < n; block++ {
			h := hmac.New(sha256.New, key)
			h.Write([]byte(username))
			h.Write([]byte{0, byte(i + 1), block})
			id = h.Sum(id)
		}
		ids[i] = id[:n]
	}
	return ids
}

// keyStatsTTL is how long the keys' spread is kept before it is read
// again; keyStatsRetry, after a failed read.
const (
	keyStatsTTL   = 10 * time.Minute
	keyStatsRetry = 30 * time.Second
)

// defaultIDLengths stands in for the keys' id lengths while there is no key.
var defaultIDLengths = spread{{value: 32, count: 1}}

// keySpread returns how the installation's security keys are spread
// (Store.KeyStats): their id lengths, and how many keys people have.
// NewSignIn reads them first; afterwards they are read again in the
// background when older than keyStatsTTL, so that no request waits for the
// read (an unknown name's would be slower than a known one's).
func (s *SignIn) keySpread() (lengths, perPerson spread) {
	s.keyStats.Lock()
	defer s.keyStats.Unlock()
	if !s.keyStats.reading && !s.now().Before(s.keyStats.next) {
		s.keyStats.reading = true
		go func() {
			s.refreshKeyStats()
			s.keyStats.Lock()
			s.keyStats.reading = false
			s.keyStats.Unlock()
		}()
	}
	return s.keyStats.lengths, s.keyStats.perPerson
}

// refreshKeyStats reads the keys' spread (defaultIDLengths if there is no
// key) and when to read it next: after keyStatsTTL, or, when the store
// fails, after keyStatsRetry with the spread it had.
func (s *SignIn) refreshKeyStats() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.store.KeyStats(ctx)
	wait := keyStatsTTL
	if err != nil {
		s.log.Warn("cannot read how the security keys are spread; fake key ceremonies keep what they had", "err", err)
		wait = keyStatsRetry
	}
	lengths := spreadOf(st.IDLengths)
	if len(lengths) == 0 {
		lengths = defaultIDLengths
	}
	s.keyStats.Lock()
	defer s.keyStats.Unlock()
	if err == nil {
		s.keyStats.lengths, s.keyStats.perPerson = lengths, spreadOf(st.PerPerson)
	}
	s.keyStats.next = s.now().Add(wait)
}

// keyCeremony is an open key ceremony, kept in Pending.Ceremony:
// go-webauthn's session data (the challenge, the user handle, user
// verification), without the allowed credential ids. The options are made
// again from the person's keys whenever the page asks for them (BeginKey),
// and the assertion is checked against her keys as they are when it comes
// (verifyAssertion); so the pending id has the same size however many keys
// she has, and its size tells nothing about them.
type keyCeremony struct {
	Session webauthn.SessionData `json:"session"`
}

// openCeremony opens an assertion for p into p.Ceremony (a new random
// challenge: WebAuthn L3 §13.4.3) and returns its options. The challenge is
// single use: the pending sign-in that holds it is used up when the
// assertion is checked.
func (s *SignIn) openCeremony(p *Pending, creds []Credential) ([]byte, error) {
	assertion, sd, err := s.beginLogin(*p, creds)
	if err != nil {
		return nil, err
	}
	return keepCeremony(p, assertion, sd)
}

// beginLogin makes the options of a key ceremony for p with
// allowCredentials from creds (deterministic fake ids for an unknown
// username or a person without keys: WebAuthn L3 §14.6.2), then more
// (a challenge to make them again: ceremonyOptions; otherwise a new one).
// User verification is "preferred" for everyone, so the options do not
// reveal a group's policy; FinishKey enforces it.
func (s *SignIn) beginLogin(p Pending, creds []Credential, more ...webauthn.LoginOption) (*protocol.CredentialAssertion, *webauthn.SessionData, error) {
	opts := append([]webauthn.LoginOption{webauthn.WithUserVerification(protocol.VerificationPreferred)}, more...)
	assertion, sd, err := s.wa.BeginLogin(s.keyUser(p, creds), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("begin key sign-in: %w", err)
	}
	return assertion, sd, nil
}

// keepCeremony puts the ceremony of sd into p.Ceremony and returns the
// options of assertion.
func keepCeremony(p *Pending, assertion *protocol.CredentialAssertion, sd *webauthn.SessionData) ([]byte, error) {
	options, err := json.Marshal(assertion)
	if err != nil {
		return nil, fmt.Errorf("encode assertion options: %w", err)
	}
	sd.AllowedCredentialIDs = nil // see keyCeremony
	if p.Ceremony, err = json.Marshal(keyCeremony{Session: *sd}); err != nil {
		return nil, fmt.Errorf("encode ceremony: %w", err)
	}
	return options, nil
}

// ceremonyOptions makes again the options of the ceremony c that p holds:
// the same challenge, and allowCredentials from the person's keys as they
// are now (none for a passkey ceremony, which names nobody).
func (s *SignIn) ceremonyOptions(ctx context.Context, p Pending, c keyCeremony) ([]byte, error) {
	challenge, err := base64.RawURLEncoding.DecodeString(c.Session.Challenge)
	if err != nil {
		return nil, fmt.Errorf("decode ceremony challenge: %w", err)
	}
	// The sealed session decides: its challenge, its user verification.
	// Options given here come after beginLogin's own, so they win.
	same := []webauthn.LoginOption{webauthn.WithUserVerification(c.Session.UserVerification), webauthn.WithChallenge(challenge)}
	var assertion *protocol.CredentialAssertion
	if len(c.Session.UserID) == 0 {
		assertion, _, err = s.wa.BeginDiscoverableLogin(same...)
	} else {
		// For an unknown name (p.UserID is "") the same read finds
		// nothing, and keyUser makes the same fake keys as before.
		var creds []Credential
		if creds, err = s.store.ListCredentials(ctx, p.UserID); err != nil {
			return nil, fmt.Errorf("begin key sign-in: %w", err)
		}
		assertion, _, err = s.beginLogin(p, creds, same...)
	}
	if err != nil {
		return nil, fmt.Errorf("begin key sign-in: %w", err)
	}
	options, err := json.Marshal(assertion)
	if err != nil {
		return nil, fmt.Errorf("encode assertion options: %w", err)
	}
	return options, nil
}

// BeginKey returns the options of the pending sign-in's key ceremony (the
// JSON of protocol.CredentialAssertion) and its Progress. Start opens the
// ceremony when the key is the first step, so this then only reads the
// person's keys: the same challenge, under the same pending id, however
// often the page asks, and the first assertion checked against it ends the
// ceremony. Where none is open (the person switched to the key, or a try
// failed), it opens one under a new pending id, using up the old one.
func (s *SignIn) BeginKey(ctx context.Context, pendingID []byte) ([]byte, Progress, error) {
	p, err := s.peekFor(ctx, pendingID, StepKey)
	if err != nil {
		return nil, Progress{}, err
	}
	if p.Ceremony != nil {
		var c keyCeremony
		if err := json.Unmarshal(p.Ceremony, &c); err == nil && c.Session.Challenge != "" {
			options, err := s.ceremonyOptions(ctx, p, c)
			if err != nil {
				return nil, Progress{}, err
			}
			return options, Progress{Next: StepKey, PendingID: pendingID, Username: p.Username, ReturnTo: p.ReturnTo}, nil
		}
	}
	creds, err := s.store.ListCredentials(ctx, p.UserID)
	if err != nil {
		return nil, Progress{}, fmt.Errorf("begin key sign-in: %w", err)
	}
	options, err := s.openCeremony(&p, creds)
	if err != nil {
		return nil, Progress{}, err
	}
	prog, err := s.replace(ctx, p)
	if err != nil {
		return nil, Progress{}, err
	}
	return options, prog, nil
}

// BeginPasskey opens a discoverable assertion with user verification
// required (no username): WebAuthn L3 §5.1.4 with an empty allowCredentials.
func (s *SignIn) BeginPasskey(ctx context.Context, returnTo string, c ClientInfo) ([]byte, Progress, error) {
	assertion, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, Progress{}, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	p := Pending{Next: StepKey, ReturnTo: returnTo}
	options, err := keepCeremony(&p, assertion, sd)
	if err != nil {
		return nil, Progress{}, err
	}
	prog, err := s.put(ctx, p)
	if err != nil {
		return nil, Progress{}, err
	}
	return options, prog, nil
}

// keyResult is a verified assertion.
type keyResult struct {
	user   User
	groups []string // the names of her groups
	cred   Credential
	uv     bool   // the authenticator verified the person (UV flag)
	sign   uint32 // the assertion's signature counter
}

// finishKey verifies the browser's assertion (the JSON body of
// navigator.credentials.get()'s result, credential.toJSON()) against the
// pending ceremony, following WebAuthn L3 §7.2: go-webauthn checks steps
// 5–21 (challenge, origin, RP ID hash, flags, signature); this adds what it
// leaves to the relying party: the key belongs to the person signing in
// (steps 6–7), its backup-eligible flag is the one registered, the sign
// count moves forward (step 22: otherwise it is flagged as cloned and
// audited, unless another sign-in with the key that ended after this
// ceremony began stored the count: overtaken, once), user verification where policy asks for it, the person's
// status and her groups' level.
//
// The pending sign-in is read, not used, while the assertion is checked;
// then one write (CompleteFactorStep) uses it up, exactly once, together
// with the sign count and the session, if the step ends the sign-in. Of two finishes of one
// ceremony, at most one gets past that write, so the challenge stays single
// use; the other is told the sign-in expired. A sign count that does not
// move forward fails that write (ErrNotForward) with the pending sign-in
// still unused: then the key is flagged.
func (s *SignIn) finishKey(ctx context.Context, pendingID, response []byte, c ClientInfo) (Progress, error) {
	p, err := s.peekFor(ctx, pendingID, StepKey)
	if err != nil {
		return Progress{}, err
	}
	res, err := s.verifyAssertion(ctx, p, response)
	if err != nil {
		return s.failPeeked(ctx, p, err)
	}
	// Whether the sign count moves forward is left to CompleteFactorStep's
	// one conditional write, after it has used up the pending sign-in:
	// only a ceremony still open may flag a key as cloned, not a finish
	// sent again after another process completed it.
	refusal := s.keyRefusal(res)
	if refusal == nil && !res.uv {
		if refusal, err = s.needPassword(ctx, res.user); err != nil {
			return Progress{}, err
		}
	}
	if refusal == nil && res.uv {
		refusal = s.checkDirectory(ctx, res.user)
	}
	st := FactorStep{Credential: res.cred.ID, Kind: KindWebAuthn, SignCount: res.sign}
	next := p
	var prog Progress
	switch {
	case refusal != nil:
		// The assertion was right: its sign count is stored, and the same
		// step is offered again, with a new challenge.
		next.Ceremony = nil
		prog, err = s.commitFactor(ctx, st, next, nil, c)
	default:
		factor := keyFactor(res.cred)
		next.UserID, next.Username, next.AMR, next.Ceremony = res.user.ID, res.user.Username, []string{factor}, nil
		if res.uv {
			next.AMR = append(next.AMR, "user")
			prog, err = s.commitFactor(ctx, st, next, &res.user, c)
		} else {
			next.Next = StepPassword
			prog, err = s.commitFactor(ctx, st, next, nil, c)
		}
	}
	switch {
	case errors.Is(err, ErrNotForward): // not forward: cloned, or a race with another use of the key
		refused, err := s.overtaken(ctx, p, res, c)
		if err != nil {
			return Progress{}, err
		}
		if refused != nil {
			return s.failPeeked(ctx, p, refusalOf(res.user, refused))
		}
		return s.failPeeked(ctx, p, refusalOf(res.user, s.flagCloned(ctx, res, c)))
	case errors.Is(err, ErrNotFound): // the key was removed meanwhile
		return s.failPeeked(ctx, p, refusalOf(res.user, refuse(ReasonKeyRefused, "key %s removed during its sign-in", res.cred.ID)))
	case err != nil:
		return Progress{}, err
	case refusal != nil:
		return prog, refusalOf(res.user, refusal)
	}
	return prog, nil
}

// keyRefusal is why a right assertion still does not sign the person in:
// her status, her groups' level or their demand for user verification; nil
// if nothing stands in the way.
func (s *SignIn) keyRefusal(res keyResult) *SignInError {
	if r := statusRefusal(res.user); r != nil {
		return r
	}
	pol := s.policyOf(res.groups)
	factor := keyFactor(res.cred)
	if _, level := amrACR([]string{factor}); !level.Meets(pol.level) {
		return refuse(ReasonKeyNotAdmitted, "a %s key gives %s, policy needs %s", factor, level, pol.level)
	}
	if s.keyPolicy != nil {
		if err := s.keyPolicy.CheckStoredKey(res.groups, res.cred); err != nil {
			return refuse(ReasonKeyNotAdmitted, "key %s does not meet its owner's group policy: %v", res.cred.ID, err)
		}
	}
	if pol.uv && !res.uv {
		return refuse(ReasonUVRequired, "key %s did not verify the person", res.cred.ID)
	}
	return nil
}

// checkDirectory asks a directory person's directory live whether she may
// still sign in, for a key with PIN (no password follows, which would ask
// it): a refusal, or nil.
func (s *SignIn) checkDirectory(ctx context.Context, u User) *SignInError {
	if u.Source != SourceDirectory || s.dirStatus == nil {
		return nil
	}
	err := s.dirStatus.CheckAccount(ctx, u)
	if err == nil {
		return nil
	}
	if se := directoryRefusal(err); se != nil && se.Reason != ReasonWrongPassword {
		if se.Reason == ReasonDirectoryUnavailable {
			s.log.Warn("the directory cannot confirm a key sign-in", "user", u.ID, "directory", u.Directory, "err", err)
		}
		return se
	}
	s.log.Error("the directory check of a key sign-in failed", "user", u.ID, "directory", u.Directory, "err", err)
	return &SignInError{Reason: ReasonDirectoryUnavailable, Err: err}
}

// failStep puts p back for another try when err is a refusal; other
// errors (storage) are returned as they are.
func (s *SignIn) failStep(ctx context.Context, p Pending, err error) (Progress, error) {
	var se *SignInError
	if errors.As(err, &se) {
		return s.retry(ctx, p, se)
	}
	return Progress{}, err
}

// overtaken returns a refusal (ReasonExpired: she tries again) when the
// sign count the assertion of res did not move past was stored by a
// sign-in with the key that ended after the ceremony of p began: her own
// key answered two ceremonies (two tabs, a POST sent again) and the later
// answer reached Keyhall first. Such a count proves no clone, and flagging
// it would lock her out of her own key. A count lower than one stored
// before the ceremony began (the key's last use is older than the
// ceremony) is not overtaken: the key is flagged (flagCloned). Nil when
// not overtaken; an error when the key cannot be read (nothing is flagged).
//
// Each overtaken refusal is audited ("credential.overtaken", about the
// person). Her own key answering out of order is rare and happens once; a
// clone signing in every few seconds overtakes each of her sign-ins. So a
// second overtaken refusal of the same key within OvertakenWindow is not
// excused: nil, and the key is flagged.
func (s *SignIn) overtaken(ctx context.Context, p Pending, res keyResult, c ClientInfo) (refusal, err error) {
	cur, err := s.store.GetCredentialByWebAuthnID(ctx, res.cred.WebAuthnID)
	switch {
	case errors.Is(err, ErrNotFound): // removed meanwhile
		return refuse(ReasonKeyRefused, "key %s removed during its sign-in", res.cred.ID), nil
	case err != nil:
		return nil, fmt.Errorf("read key after a sign count not moving forward: %w", err)
	case cur.ID != res.cred.ID || cur.LastUsedAt.Before(p.CreatedAt): // (the same instant counts as after: clocks are coarse)
		return nil, nil
	}
	again, err := s.overtakenBefore(ctx, res)
	if err != nil {
		return nil, err
	}
	if again {
		s.log.Warn("security key overtaken a second time: a clone racing its owner",
			"user", res.user.ID, "credential", res.cred.ID, "stored", cur.SignCount, "got", res.sign)
		return nil, nil
	}
	ev := AuditEvent{
		Time: s.now(), Actor: "user:" + res.user.ID, Action: "credential.overtaken", Subject: "user:" + res.user.ID,
		ClientAddr: c.Addr, Details: map[string]string{
			"credential": res.cred.ID, "stored_count": fmt.Sprint(cur.SignCount), "count": fmt.Sprint(res.sign),
		},
	}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return nil, fmt.Errorf("audit an overtaken key sign-in: %w", err)
	}
	s.log.Info("security key answered two ceremonies out of order: refused, not flagged",
		"user", res.user.ID, "credential", res.cred.ID, "stored", cur.SignCount, "got", res.sign,
		"ceremony_began", p.CreatedAt, "stored_at", cur.LastUsedAt)
	return refuse(ReasonExpired, "key %s: sign count %d after %d stored at %v by a sign-in that ended at or after this ceremony began at %v",
		res.cred.ID, res.sign, cur.SignCount, cur.LastUsedAt, p.CreatedAt), nil
}

// OvertakenWindow is how long an overtaken refusal of a key (see
// overtaken) is remembered: a second one of the same key within it flags
// the key as cloned.
const OvertakenWindow = 10 * time.Minute

// overtakenBefore reports whether the key of res had an overtaken refusal
// audited within OvertakenWindow.
func (s *SignIn) overtakenBefore(ctx context.Context, res keyResult) (bool, error) {
	evs, err := s.store.RecentAudit(ctx, "user:"+res.user.ID, "credential.overtaken", 20)
	if err != nil {
		return false, fmt.Errorf("read overtaken key sign-ins: %w", err)
	}
	since := s.now().Add(-OvertakenWindow)
	for _, ev := range evs {
		if ev.Details["credential"] == res.cred.ID && ev.Time.After(since) {
			return true, nil
		}
	}
	return false, nil
}

// flagCloned marks the key of an assertion whose sign count did not move
// forward in the store's conditional update as possibly cloned, audits it,
// and returns the refusal.
func (s *SignIn) flagCloned(ctx context.Context, res keyResult, c ClientInfo) error {
	ev := AuditEvent{
		Time: s.now(), Actor: "user:" + res.user.ID, Action: "credential.cloned", Subject: "user:" + res.user.ID,
		ClientAddr: c.Addr, Details: map[string]string{
			"credential": res.cred.ID, "stored_count": fmt.Sprint(res.cred.SignCount), "count": fmt.Sprint(res.sign),
		},
	}
	if err := s.store.FlagCloned(ctx, res.cred.ID, ev); err != nil {
		return fmt.Errorf("flag key as cloned: %w", err)
	}
	s.log.Warn("security key sign count went backwards: flagged as cloned",
		"user", res.user.ID, "credential", res.cred.ID, "stored", res.cred.SignCount, "got", res.sign)
	return refuse(ReasonKeyCloned, "key %s: sign count %d after %d", res.cred.ID, res.sign, res.cred.SignCount)
}
