package enroll_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyhall/keyhall/enroll"
)

func TestNormalizeCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"K7XM-4RPQ-9TWD-3HNA", "K7XM4RPQ9TWD3HNA"},
		{"k7xm 4rpq 9twd 3hna", "K7XM4RPQ9TWD3HNA"},
		{"  K7XM–4RPQ—9TWD‐3HNA ", "K7XM4RPQ9TWD3HNA"}, // en dash, em dash, hyphen
		{"Ｋ７ＸＭ４ＲＰＱ９ＴＷＤ３ＨＮＡ", "K7XM4RPQ9TWD3HNA"},       // full-width
		{"K7XM-4RPQ-9TWD-3HN0", ""},                    // 0 never occurs
		{"K7XM-4RPQ-9TWD-3HNO", ""},                    // nor O
		{"K7XM-4RPQ-9TWD-3HN1", ""},                    // nor 1, I, L
		{"K7XM-4RPQ-9TWD", ""},
		{"K7XM-4RPQ-9TWD-3HNA-A", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := enroll.NormalizeCode(tc.in)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	seen := map[string]bool{}
	for range 1000 {
		c := enroll.NewCode()
		n, err := enroll.NormalizeCode(c)
		if err != nil || enroll.FormatCode(n) != c || seen[c] {
			t.Fatalf("NewCode() = %q: normalises to %q, %v (or repeats)", c, n, err)
		}
		seen[c] = true
	}
}

func ExampleNormalizeCode() {
	c, err := enroll.NormalizeCode("k7xm 4rpq-9twd 3hna")
	fmt.Println(enroll.FormatCode(c), err)
	// Output: K7XM-4RPQ-9TWD-3HNA <nil>
}

// TestNormalizeToken: a link's token read from the letter works in any
// case, with or without dashes or with spaces; it has no look-alikes; an
// old base64url token is left as it is.
func TestNormalizeToken(t *testing.T) {
	tok := enroll.NewToken()
	if len(tok) != 64 || strings.Count(tok, "-") != 12 || strings.ContainsAny(tok, "01OIL") {
		t.Fatalf("token %q: want 13 groups of four without 0, O, 1, I, L", tok)
	}
	for _, typed := range []string{tok, strings.ToLower(tok), strings.ReplaceAll(tok, "-", ""), strings.ReplaceAll(tok, "-", " ")} {
		if got := enroll.NormalizeToken(typed); got != tok {
			t.Errorf("NormalizeToken(%q) = %q, want %q", typed, got, tok)
		}
	}
	for _, other := range []string{"q0Fh-8sJ_aa", tok[:60], tok + "-ABCD", strings.Replace(tok, tok[:1], "0", 1)} {
		if got := enroll.NormalizeToken(other); got != other {
			t.Errorf("NormalizeToken(%q) = %q, want it unchanged", other, got)
		}
	}
}
