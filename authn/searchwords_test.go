package authn_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/authn"
)

// TestSearchWordsBounded (second review of #14): a query of thousands of
// words costs the store at most MaxSearchWords queries; repeated words
// count once.
func TestSearchWordsBounded(t *testing.T) {
	if got := authn.SearchWords(strings.Repeat("a ", 20000)); len(got) != 1 {
		t.Errorf("20,000 times the same word: %d words", len(got))
	}
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("w%d", i))
	}
	if got := authn.SearchWords(strings.Join(many, " ")); len(got) != authn.MaxSearchWords {
		t.Errorf("100 words: %d used, want %d", len(got), authn.MaxSearchWords)
	}
	if got := authn.SearchWords("Müller mueller muller"); len(got) != 2 {
		t.Errorf("Müller mueller muller: %q", got)
	}
}
