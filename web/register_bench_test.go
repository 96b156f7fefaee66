package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// registerRate is the rate of registrations the issue asks Keyhall to take
// (mail queued) without slowing others' sign-ins by more than 10 %.
const registerRate = 200

// BenchmarkRegisterUnderSignIns measures self-registration on SQLite
// while others sign in, through the real handlers on 127.0.0.1, with the
// mail sent to a real SMTP server in the same process (its CPU counts
// against Keyhall's, as the load client's does):
//
//	go test ./web -run '^$' -bench BenchmarkRegisterUnderSignIns -benchtime 2000x
//
// "alone": POST /register as fast as 16 clients can, nothing else
// (registrations/s; "busy" counts the answers "try again in a minute" of a
// full mail queue). "with-signins": passkey sign-ins of 48 council members
// without a username (begin + finish, as TestLoadPasskeySignIn) run flat
// out, in windows of a second that alternate between no registrations and
// registerRate of them, each from a network of its own; it reports the
// sign-in rates of both kinds of window and the slow-down, over all
// windows and as the median of each pair's (which other load on a shared
// machine, coming and going, sways less). With 10,000x it runs 50 pairs.
func BenchmarkRegisterUnderSignIns(b *testing.B) {
	f, _, keys := councilKeys(b, withCitizens, trustLoopback)
	mb := startMailbox(b)
	f.withMail(b, mb)
	c := newLoadClient(f)
	defer c.close()
	binding := registerCookie + "=" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	var seq atomic.Int64
	var busy atomic.Int64 // answers "try again in a minute": the mail queue was full
	register := func(w int) error {
		i := seq.Add(1)
		v := url.Values{"email": {fmt.Sprintf("citizen%d@example.org", i)}, "name": {"Jemand"}}
		header := fmt.Sprintf("Cookie: %s\r\nX-Forwarded-For: 10.%d.%d.1\r\n", binding, i/256%256, i%256)
		r, err := c.send(w, "/register", "application/x-www-form-urlencoded", []byte(v.Encode()), header)
		switch {
		case err == nil && r.status == http.StatusServiceUnavailable && strings.Contains(string(r.body), "in einer Minute"):
			busy.Add(1)
		case err != nil || r.status != http.StatusOK:
			return fmt.Errorf("POST /register: %d %s, %v", r.status, r.body, err)
		}
		return nil
	}
	const signInWorkers, registerWorkers = 48, 16
	signIn := func(w int) error {
		r, err := c.post(w, "/login/passkey/begin", "application/json", []byte(`{"return_to":"/account"}`), "")
		if err != nil || r.status != http.StatusOK || r.pending == "" {
			return fmt.Errorf("POST /login/passkey/begin: %d %s, %v", r.status, r.body, err)
		}
		assertion, err := keys[w].assert("localhost", f.base, r.body)
		if err != nil {
			return err
		}
		r, err = c.post(w, "/login/passkey/finish", "application/json", assertion, r.pending)
		if err != nil || r.status != http.StatusOK || !r.session {
			return fmt.Errorf("POST /login/passkey/finish: %d %s, %v", r.status, r.body, err)
		}
		return nil
	}
	b.Run("alone", func(b *testing.B) {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := range registerWorkers {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if err := register(signInWorkers + w); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.N-int(busy.Load()))/time.Since(start).Seconds(), "registrations/s")
		b.ReportMetric(float64(busy.Load()), "busy")
		mb.wait(b.N - int(busy.Swap(0))) // its mails, not to be counted as the next run's
	})

	b.Run("with-signins", func(b *testing.B) {
		// The sign-ins run flat out all along; windows of a second
		// alternate between none and registerRate registrations a second,
		// so that a change in the machine's other load falls on both alike.
		busy.Store(0)
		mb.take() // mails of a run before
		var signed atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range signInWorkers {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := signIn(w); err != nil {
						b.Error(err)
						return
					}
					signed.Add(1)
				}
			})
		}
		time.Sleep(time.Second) // warm up
		logLoadAvg(b, "before the run")
		jobs := make(chan struct{}, registerRate)
		var regs sync.WaitGroup
		for w := range registerWorkers {
			regs.Go(func() {
				for range jobs {
					if err := register(signInWorkers + w); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		var alone, with int64
		var withTime, aloneTime time.Duration
		var pairs []float64 // the slow-down of each pair of windows, in %
		b.ResetTimer()
		for sent := 0; sent < b.N; {
			// A window without registrations.
			n0, t0 := signed.Load(), time.Now()
			time.Sleep(time.Second)
			a, at := signed.Load()-n0, time.Since(t0)
			alone, aloneTime = alone+a, aloneTime+at
			// A window with registerRate of them, each at its time.
			n0, t0 = signed.Load(), time.Now()
			for i := 0; i < registerRate && sent < b.N; i, sent = i+1, sent+1 {
				time.Sleep(time.Until(t0.Add(time.Duration(i) * time.Second / registerRate)))
				jobs <- struct{}{}
			}
			time.Sleep(time.Until(t0.Add(time.Second)))
			w, wt := signed.Load()-n0, time.Since(t0)
			with, withTime = with+w, withTime+wt
			pairs = append(pairs, 100*(1-(float64(w)/wt.Seconds())/(float64(a)/at.Seconds())))
		}
		close(jobs)
		regs.Wait()
		b.StopTimer()
		close(stop)
		wg.Wait()
		if heads, _ := mb.wait(b.N); len(heads) < b.N-int(busy.Load()) {
			b.Errorf("%d registration mails, want %d", len(heads), b.N-int(busy.Load()))
		}
		rateAlone, rateWith := float64(alone)/aloneTime.Seconds(), float64(with)/withTime.Seconds()
		b.ReportMetric(float64(b.N)/withTime.Seconds(), "registrations/s")
		b.ReportMetric(rateAlone, "signins-alone/s")
		b.ReportMetric(rateWith, "signins-with/s")
		b.ReportMetric(100*(1-rateWith/rateAlone), "slowdown-%")
		slices.Sort(pairs)
		median := pairs[len(pairs)/2]
		if len(pairs)%2 == 0 {
			median = (pairs[len(pairs)/2-1] + median) / 2
		}
		b.ReportMetric(median, "median-pair-slowdown-%")
		b.ReportMetric(float64(busy.Swap(0)), "busy")
		b.Logf("%d registrations in %v of windows with them (%.0f/s); passkey sign-ins in the windows without %.0f/s, with %.0f/s: %.1f %% slower; median of the %d pairs of windows %.1f %% slower",
			b.N, withTime.Round(time.Millisecond), float64(b.N)/withTime.Seconds(), rateAlone, rateWith, 100*(1-rateWith/rateAlone), len(pairs), median)
	})
}
