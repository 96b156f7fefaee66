package desk_test

import (
	"strings"
	"testing"

	"github.com/keyhall/keyhall/enroll/desk"
)

// TestSearchBounded (second review of #14): a search longer than
// MaxSearchQuery is refused before the store is asked.
func TestSearchBounded(t *testing.T) {
	f := newFixture(t)
	helga := f.console(t, "helga")
	if _, err := f.desk.Search(t.Context(), helga, strings.Repeat("a ", desk.MaxSearchQuery), ""); err == nil {
		t.Fatal("a search of 400 bytes was run")
	} else {
		wantErr(t, "a long search", err, desk.ErrInvalid)
	}
	if p, err := f.desk.Search(t.Context(), helga, "kurt", ""); err != nil || len(p.People) != 1 {
		t.Errorf("search kurt: %+v, %v", p, err)
	}
}
