package authn_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// BenchmarkKeySignIn is a complete security-key sign-in through SignIn on
// SQLite (Start, BeginKey, the authenticator's signature, FinishKey with
// its durable sign-count write, the session and its audit event), from 64
// goroutines. Each goroutine has its own person and key, whose count
// moves forward.
func BenchmarkKeySignIn(b *testing.B) {
	e := newEnv(b)
	const par = 32
	n := par * runtime.GOMAXPROCS(0)
	devs := make([]*device, n)
	for i := range devs {
		devs[i] = e.addKey(e.user(fmt.Sprintf("rat%03d", i), authn.SourceLocal), false, true, 0)
	}
	var next atomic.Int64
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) - 1)
		d, name := devs[i%n], fmt.Sprintf("rat%03d", i%n)
		for count := int64(1); pb.Next(); count++ {
			p, err := e.si.Start(e.ctx(), name, "/", client)
			if err != nil {
				b.Fatal(err)
			}
			opts, p, err := e.si.BeginKey(e.ctx(), p.PendingID)
			if err != nil {
				b.Fatal(err)
			}
			p, err = e.si.FinishKey(e.ctx(), p.PendingID, e.sign(d, opts, count), client)
			if err != nil || p.Next != authn.StepDone {
				b.Fatalf("FinishKey: %+v, %v", p.Next, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
}

// BenchmarkTOTPSignIn is the app-code step through SignIn on SQLite
// (Start, then VerifyTOTP: code checked, throttle counters read, durable
// replay mark, next pending sign-in sealed), from 64 goroutines. Replay
// protection stays on: operation i uses person i mod people at time step
// base + i/people, and the clock follows the operations, so no (person,
// step) pair is ever used twice.
func BenchmarkTOTPSignIn(b *testing.B) {
	const people = 2000
	clk := &opClock{base: t0}
	e := newEnv(b, func(c *authn.SignInConfig) { c.Now = clk.Now })
	clk.people = people
	secrets := make([][]byte, people)
	for i := range secrets {
		secrets[i], _ = e.addApp(e.user(fmt.Sprintf("p%05d", i), authn.SourceLocal))
	}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := clk.issue()
			person := int(i % people)
			at := clk.stepTime(i)
			name := fmt.Sprintf("p%05d", person)
			c := authn.ClientInfo{Addr: fmt.Sprintf("10.0.%d.%d", person/250, person%250)}
			p, err := e.si.Start(e.ctx(), name, "/", c)
			if err != nil {
				b.Fatal(err)
			}
			code, _ := authn.TOTPCode(secrets[person], at)
			p, err = e.si.VerifyTOTP(e.ctx(), p.PendingID, code, c)
			if err != nil || p.Next != authn.StepPassword {
				b.Fatalf("VerifyTOTP(op %d): %+v, %v", i, p.Next, err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

// opClock is a clock driven by the benchmark's operations: operation i
// belongs to time step i/people, and Now is the step of the newest
// operation issued.
type opClock struct {
	base   time.Time
	people int64
	issued atomic.Int64
}

func (c *opClock) issue() int64 { return c.issued.Add(1) - 1 }

func (c *opClock) stepTime(i int64) time.Time {
	return c.base.Add(time.Duration(i/c.people) * authn.TOTPPeriod * time.Second)
}

func (c *opClock) Now() time.Time {
	if c.people == 0 {
		return c.base
	}
	return c.stepTime(max(c.issued.Load()-1, 0))
}
