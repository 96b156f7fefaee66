package authn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// TestCheckpoint: a signed checkpoint survives a text or JSON log line and
// verifies; a checkpoint with any field changed, or checked with another
// key, does not.
func TestCheckpoint(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hash := [32]byte{1, 2, 3}
	at := time.Date(2026, 12, 6, 22, 0, 0, 123456789, time.UTC)
	c, err := authn.SignCheckpoint(key, "01JKEY", 4711, hash, at)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(map[string]string{"msg": "audit checkpoint", "checkpoint": c.String()})
	for _, line := range []string{
		c.String(),
		`time=2026-12-06T22:00:00.000Z level=INFO msg="audit checkpoint" seq=4711 checkpoint=` + c.String(),
		string(js) + "\n",
	} {
		got, err := authn.ParseCheckpoint(line)
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		if got.Seq != 4711 || got.Hash != hash || !got.Time.Equal(at.Truncate(time.Microsecond)) || got.KeyID != "01JKEY" {
			t.Errorf("parsed %+v", got)
		}
		if err := got.Verify(&key.PublicKey); err != nil {
			t.Errorf("verify %q: %v", line, err)
		}
	}
	if c.Verify(&other.PublicKey) == nil {
		t.Error("verified with another key")
	}
	for name, change := range map[string]func(*authn.Checkpoint){
		"seq":  func(c *authn.Checkpoint) { c.Seq-- },
		"hash": func(c *authn.Checkpoint) { c.Hash[31] ^= 1 },
		"time": func(c *authn.Checkpoint) { c.Time = c.Time.Add(time.Microsecond) },
		"kid":  func(c *authn.Checkpoint) { c.KeyID = "01JKEZ" },
	} {
		bad := c
		change(&bad)
		if bad.Verify(&key.PublicKey) == nil {
			t.Errorf("a checkpoint with its %s changed verifies", name)
		}
	}
	for _, bad := range []string{"", "keyhall-checkpoint.v1.", "keyhall-checkpoint.v1.1.00.1.k.AA",
		"keyhall-checkpoint.v1.-1." + hex64 + ".1.k.AA", "keyhall-checkpoint.v1.1." + hex64 + ".1.k!.AA",
		"keyhall-checkpoint.v1.1." + hex64 + ".1.k.", "keyhall-checkpoint.v1.1." + hex64 + ".x.k.AA"} {
		if _, err := authn.ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint(%q) accepted", bad)
		}
	}
}

const hex64 = "0000000000000000000000000000000000000000000000000000000000000000"

// FuzzParseCheckpoint: a line pasted from a log never panics the parser,
// and what it accepts prints back as the token it read.
func FuzzParseCheckpoint(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, _ := authn.SignCheckpoint(key, "01JKEY", 1, [32]byte{}, time.Unix(0, 0))
	f.Add(c.String())
	f.Add(`{"checkpoint":"` + c.String() + `"}`)
	f.Add("keyhall-checkpoint.v1.1." + hex64 + ".1.k.AA")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := authn.ParseCheckpoint(line)
		if err != nil {
			return
		}
		again, err := authn.ParseCheckpoint(c.String())
		if err != nil || again.String() != c.String() {
			t.Fatalf("round trip of %q: %v, %q", c.String(), err, again.String())
		}
	})
}
