package ldapsync_test

import (
	"context"
	"errors"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
	"github.com/keyhall/keyhall/ldapsync/ldaptest"
)

const rightPW = "Richtig!Passw0rt"

// TestVerifyPasswordAD: a directory person's password is checked by a bind
// against real Samba AD, and each of AD's answers is told apart; an empty
// password and the same wrong password again are not sent (badPwdCount does
// not rise).
func TestVerifyPasswordAD(t *testing.T) {
	s := ldaptest.StartSamba(t)
	s.SetLockoutThreshold(t, 5) // Samba keeps no badPwdCount without one
	v := newVerifier(t, adConfig(s))
	ctx := context.Background()
	lockOut := func(u ldaptest.SambaUser) { // five wrong passwords, not through Keyhall
		c, err := s.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range 5 {
			c.Bind(u.DN, "Falsch!"+string(rune('a'+i)))
		}
	}
	for _, tc := range []struct {
		name    string
		prepare func(u ldaptest.SambaUser)
		pw      string
		want    error // nil: success
		badPwd  int   // badPwdCount afterwards
		binds   int   // binds sent
	}{
		{"right password", nil, rightPW, nil, 0, 1},
		{"wrong password", nil, "Falsch!1", authn.ErrWrongPassword, 1, 1},
		{"empty password", nil, "", authn.ErrWrongPassword, 0, 0},
		{"disabled (533), found so before the bind", func(u ldaptest.SambaUser) { s.Disable(t, u.DN) }, rightPW, authn.ErrAccountDisabled, 0, 0},
		{"expired (701), found so before the bind", func(u ldaptest.SambaUser) { s.SetExpiry(t, u.DN, time.Now().Add(-time.Hour)) }, rightPW, authn.ErrAccountExpired, 0, 0},
		{"must change (773)", func(u ldaptest.SambaUser) { s.MustChangePassword(t, u.DN, true) }, rightPW, authn.ErrPasswordMustChange, 0, 1},
		{"locked (775)", lockOut, rightPW, authn.ErrAccountLocked, 5, 0},
		{"locked, wrong password", lockOut, "Falsch!x", authn.ErrAccountLocked, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.NewReplacer(" ", "", "(", "", ")", "", ",", "").Replace(tc.name)
			su := s.CreateUser(t, "pw."+name[:min(17, len(name))], rightPW) // sAMAccountName: ≤ 20
			if tc.prepare != nil {
				tc.prepare(su)
			}
			before := s.Binds(t, su.DN)
			err := v.VerifyPassword(ctx, dirUser(su), tc.pw)
			if n := s.Binds(t, su.DN) - before; n != tc.binds {
				t.Errorf("%d binds sent, want %d", n, tc.binds)
			}
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("VerifyPassword = %v, want %v", err, tc.want)
			}
			if errors.Is(err, authn.ErrDirectoryUnavailable) && tc.want != authn.ErrDirectoryUnavailable {
				t.Fatalf("%v is also 'unavailable'", err)
			}
			if n := s.BadPwdCount(t, su.DN); n != tc.badPwd {
				t.Errorf("badPwdCount %d, want %d", n, tc.badPwd)
			}
		})
	}

	t.Run("same wrong password twice", func(t *testing.T) {
		su := s.CreateUser(t, "pw.twice", rightPW)
		u := dirUser(su)
		for _, pw := range []string{"Falsch!1", "Falsch!1", "Falsch!2", "Falsch!1", "Falsch!2"} {
			if err := v.VerifyPassword(ctx, u, pw); !errors.Is(err, authn.ErrWrongPassword) {
				t.Fatalf("%s: %v", pw, err)
			}
		}
		if n := s.Binds(t, su.DN); n != 2 {
			t.Errorf("%d binds sent for five tries of two passwords, want 2", n)
		}
		if n := s.BadPwdCount(t, su.DN); n != 2 {
			t.Errorf("badPwdCount %d after two different wrong passwords, each typed again: want 2", n)
		}
		if err := v.VerifyPassword(ctx, u, rightPW); err != nil {
			t.Fatalf("right password afterwards: %v", err)
		}
	})
}

// TestVerifyPasswordInjection: ids and names made to break out of a filter
// or DN sign nobody in and name nobody, whatever the password.
func TestVerifyPasswordInjection(t *testing.T) {
	s := ldaptest.StartSamba(t)
	v := newVerifier(t, adConfig(s))
	ctx := context.Background()
	anna := s.CreateUser(t, "inj.anna", rightPW)
	for _, bad := range []string{"*", "*)(uid=*", "x)(|(objectClass=*)", "inj.anna\x00", "\x00",
		strings.ToUpper(anna.GUID), anna.GUID + ">", "{" + anna.GUID + "}", "urn:uuid:" + anna.GUID, anna.GUID + ",CN=Users"} {
		u := dirUser(anna)
		u.ExternalID, u.Username = bad, bad
		for _, pw := range []string{rightPW, "*", ""} {
			if err := v.VerifyPassword(ctx, u, pw); err == nil || errors.Is(err, authn.ErrDirectoryUnavailable) {
				t.Errorf("id %q, password %q: %v, want a refusal", bad, pw, err)
			}
		}
		if err := v.CheckAccount(ctx, u); !errors.Is(err, authn.ErrAccountDisabled) {
			t.Errorf("CheckAccount of id %q: %v, want disabled", bad, err)
		}
	}
	// Her own id with a name that is not hers still binds only her.
	u := dirUser(anna)
	u.Username = "*)(uid=*"
	if err := v.VerifyPassword(ctx, u, rightPW); err != nil {
		t.Errorf("her id under another name: %v", err)
	}
	// A person outside the base DNs is not found.
	out := adConfig(s)
	out.Name, out.BaseDNs = "ad", []string{"OU=Nowhere," + s.BaseDN}
	if err := newVerifier(t, out).VerifyPassword(ctx, dirUser(anna), rightPW); !errors.Is(err, authn.ErrAccountDisabled) {
		t.Errorf("person outside the base DN: %v", err)
	}
}

// TestSignInLockoutAD: ten wrong passwords through Keyhall's sign-in, with
// Keyhall's limit at 3 below AD's lockout threshold of 5, leave AD's
// badPwdCount at 3 or less: her Windows account is not locked.
func TestSignInLockoutAD(t *testing.T) {
	s := ldaptest.StartSamba(t)
	s.SetLockoutThreshold(t, 5)
	v := newVerifier(t, adConfig(s))
	f := newFlow(t, func(c *authn.SignInConfig) { c.Directory, c.PasswordLimit, c.PasswordWindow = v, 3, 30*time.Minute })
	su := s.CreateUser(t, "lock.berta", rightPW)
	u := dirUser(su)
	k := f.addPerson(u, false)
	p, err := f.signInWithKey(u.Username, k)
	if err != nil || p.Next != authn.StepPassword {
		t.Fatalf("key: %+v %v", p, err)
	}
	var reasons []authn.Reason
	for i := range 10 {
		p, err = f.si.VerifyPassword(context.Background(), p.PendingID, "Falsch!"+string(rune('a'+i)), client)
		reasons = append(reasons, reason(t, err))
		if len(p.PendingID) == 0 {
			t.Fatalf("try %d: no pending id to try again (%v)", i+1, err)
		}
	}
	if n := s.BadPwdCount(t, su.DN); n > 3 {
		t.Errorf("badPwdCount %d after 10 wrong passwords, want ≤ 3 (reasons %v)", n, reasons)
	}
	if got := s.Attr(t, su.DN, "msDS-User-Account-Control-Computed"); got != "0" {
		t.Errorf("AD locked her out (msDS-User-Account-Control-Computed %s)", got)
	}
	for i, r := range reasons {
		want := authn.ReasonWrongPassword
		if i >= 3 {
			want = authn.ReasonThrottled
		}
		if r != want {
			t.Errorf("try %d: %s, want %s", i+1, r, want)
		}
	}
}

// TestDirectoryUnavailable: a directory that refuses connections, or takes
// them and never answers (a paused Samba), gives ErrDirectoryUnavailable
// within the timeout; through Keyhall's sign-in the person is told to try
// later, and her tries are not counted as wrong passwords.
func TestDirectoryUnavailable(t *testing.T) {
	s := ldaptest.StartSamba(t)
	s.SetLockoutThreshold(t, 5)
	su := s.CreateUser(t, "down.clara", rightPW)
	ctx := context.Background()

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "ldaps://" + closed.Addr().String()
	closed.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, tc := range []struct{ name, url string }{
		{"connection refused", closedURL},
		{"never answers", "ldaps://" + silent.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := adConfig(s)
			c.URL, c.Timeout = tc.url, time.Second
			v := newVerifier(t, c)
			start := time.Now()
			err := v.VerifyPassword(ctx, dirUser(su), rightPW)
			if !errors.Is(err, authn.ErrDirectoryUnavailable) || errors.Is(err, authn.ErrWrongPassword) {
				t.Fatalf("VerifyPassword = %v, want ErrDirectoryUnavailable", err)
			}
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("took %v with a timeout of 1 s", d)
			}
		})
	}

	t.Run("paused Samba, through the sign-in", func(t *testing.T) {
		c := adConfig(s)
		c.Timeout = time.Second
		v := newVerifier(t, c)
		f := newFlow(t, func(c *authn.SignInConfig) { c.Directory, c.PasswordLimit = v, 3 })
		u := dirUser(su)
		k := f.addPerson(u, false)
		if err := v.VerifyPassword(ctx, u, rightPW); err != nil { // a pooled connection, paused below
			t.Fatal(err)
		}
		p, err := f.signInWithKey(u.Username, k)
		if err != nil {
			t.Fatal(err)
		}
		resume := s.Pause(t)
		for i := range 5 {
			start := time.Now()
			p, err = f.si.VerifyPassword(ctx, p.PendingID, rightPW, client)
			if r := reason(t, err); r != authn.ReasonDirectoryUnavailable {
				t.Fatalf("try %d while paused: %s (%v), want %s", i+1, r, err, authn.ReasonDirectoryUnavailable)
			}
			if d := time.Since(start); d > 2500*time.Millisecond {
				t.Errorf("try %d took %v with a timeout of 1 s", i+1, d)
			}
		}
		resume()
		// Five tries while it was down, with a limit of 3: none was
		// counted, so the right password now works.
		p, err = f.si.VerifyPassword(ctx, p.PendingID, rightPW, client)
		if err != nil || p.Next != authn.StepDone {
			t.Fatalf("after the directory is back: %+v %v", p, err)
		}
	})
}

// TestCheckAccountAD: a person disabled (or expired) in AD after the last
// sync cannot sign in with her key and PIN; while AD does not answer, her
// last known state counts only while younger than MaxStaleness.
func TestCheckAccountAD(t *testing.T) {
	s := ldaptest.StartSamba(t)
	c := adConfig(s)
	c.Timeout, c.MaxStaleness = time.Second, 15*time.Minute
	v := newVerifier(t, c)
	clk := &clock{t: time.Now()}
	v.Now = clk.Now
	f := newFlow(t, func(c *authn.SignInConfig) { c.Directory, c.DirectoryStatus = v, v })
	su := s.CreateUser(t, "key.dora", rightPW)
	u := dirUser(su)
	k := f.addPerson(u, true)
	step := func(want authn.Reason) {
		t.Helper()
		p, err := f.signInWithKey(u.Username, k)
		if r := reason(t, err); r != want {
			t.Fatalf("key with PIN: %s (%v), want %q", r, err, want)
		}
		if want == "" && p.Next != authn.StepDone {
			t.Fatalf("key with PIN: %+v", p)
		}
	}
	step("")
	s.Disable(t, su.DN)
	step("") // the answer of a minute ago
	clk.Add(61 * time.Second)
	step(authn.ReasonDisabled)
	s.Enable(t, su.DN)
	clk.Add(61 * time.Second)
	step("")
	s.SetExpiry(t, su.DN, time.Now().Add(-time.Minute))
	clk.Add(61 * time.Second)
	step(authn.ReasonAccountExpired)
	s.SetExpiry(t, su.DN, time.Time{})
	clk.Add(61 * time.Second)
	step("")

	// AD does not answer: her state of 2 minutes ago counts, of 16 not.
	resume := s.Pause(t)
	defer resume()
	clk.Add(2 * time.Minute)
	step("")
	clk.Add(14 * time.Minute)
	step(authn.ReasonDirectoryUnavailable)
	resume()
	step("")
}

// BenchmarkVerifyPasswordAD measures a password check by bind against the
// local Samba AD: a lookup by <GUID=…> on a pooled connection, then a bind
// on a new TLS connection.
func BenchmarkVerifyPasswordAD(b *testing.B) {
	s := ldaptest.StartSamba(b)
	v := newVerifier(b, adConfig(s))
	u := dirUser(s.CreateUser(b, "bench.emil", rightPW))
	ctx := context.Background()
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := v.VerifyPassword(ctx, u, rightPW); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
}

var _ = ldapsync.Config{}
