package ldapsync

import (
	"runtime/debug"
	"testing"
)

// TestLowerGC: full syncs run with the collector at fullReadGOGC; several
// at once restore the setting only when the last ends; an operator's
// lower GOGC is kept.
func TestLowerGC(t *testing.T) {
	get := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	a := lowerGC()
	b := lowerGC()
	if got := get(); got != fullReadGOGC {
		t.Errorf("during two full syncs: GOGC %d, want %d", got, fullReadGOGC)
	}
	a()
	a() // twice: no effect
	if got := get(); got != fullReadGOGC {
		t.Errorf("one of two ended: GOGC %d, want %d", got, fullReadGOGC)
	}
	b()
	if got := get(); got != 100 {
		t.Errorf("after both: GOGC %d, want 100", got)
	}

	debug.SetGCPercent(20)
	c := lowerGC()
	if got := get(); got != 20 {
		t.Errorf("with GOGC=20: %d during a full sync, want 20", got)
	}
	c()
	if got := get(); got != 20 {
		t.Errorf("with GOGC=20: %d after, want 20", got)
	}
}
