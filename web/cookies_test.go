package web

import (
	"net/http"
	"strings"
	"testing"
)

// requestCookie must answer as http.Request.Cookie does: the same value,
// or none when net/http finds none.
func checkRequestCookie(t *testing.T, lines []string, name string) (string, bool) {
	t.Helper()
	r := &http.Request{Header: http.Header{"Cookie": lines}}
	got, ok := requestCookie(r.Header, name)
	c, err := r.Cookie(name)
	if ok != (err == nil) || (ok && got != c.Value) {
		t.Fatalf("requestCookie(%q, %q) = %q, %v; net/http: %v, %v", lines, name, got, ok, c, err)
	}
	return got, ok
}

func TestRequestCookie(t *testing.T) {
	many := strings.Repeat("a=b; ", maxCookies) + ForwardAuthCookie + "=v"
	for _, tc := range []struct {
		lines []string
		want  string
		found bool
	}{
		{nil, "", false},
		{[]string{""}, "", false},
		{[]string{ForwardAuthCookie + "=abc"}, "abc", true},
		{[]string{"x=1; " + ForwardAuthCookie + "=abc; y=2"}, "abc", true},
		{[]string{"  " + ForwardAuthCookie + " = abc ;"}, " abc", true},
		{[]string{ForwardAuthCookie + `="abc"`}, "abc", true},
		{[]string{ForwardAuthCookie + `="`}, "", false},
		{[]string{ForwardAuthCookie + "=a\\b", ForwardAuthCookie + "=second"}, "second", true},
		{[]string{ForwardAuthCookie + "=first; " + ForwardAuthCookie + "=second"}, "first", true},
		{[]string{"x=1", ForwardAuthCookie + "=on the second line"}, "on the second line", true},
		{[]string{ForwardAuthCookie + "-not=abc"}, "", false},
		{[]string{"__secure-keyhall=abc"}, "", false}, // names are case-sensitive
		{[]string{ForwardAuthCookie}, "", true},
		{[]string{ForwardAuthCookie + "="}, "", true},
		{[]string{many}, "", false}, // over net/http's limit: it reads none
	} {
		got, ok := checkRequestCookie(t, tc.lines, ForwardAuthCookie)
		// Under another GODEBUG limit only net/http's answers count.
		if !cookieLimitChanged && (got != tc.want || ok != tc.found) {
			t.Errorf("requestCookie(%q) = %q, %v; want %q, %v", tc.lines, got, ok, tc.want, tc.found)
		}
	}
}

// FuzzRequestCookie holds requestCookie to net/http's answers for any
// Cookie header, on one line or two.
func FuzzRequestCookie(f *testing.F) {
	f.Add(ForwardAuthCookie+"=abc; x=1", "")
	f.Add(`x=1;`+SessionCookie+`="q"`, ForwardAuthCookie+"=z")
	f.Add(" ; ;"+ForwardAuthCookie+" =\t a b ", "\x00")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, name := range []string{ForwardAuthCookie, SessionCookie} {
			checkRequestCookie(t, []string{a}, name)
			checkRequestCookie(t, []string{a, b}, name)
		}
	})
}

// BenchmarkRequestCookie: requestCookie against Request.Cookie on a
// browser's typical Cookie header.
func BenchmarkRequestCookie(b *testing.B) {
	r := &http.Request{Header: http.Header{"Cookie": {"lang=de; _pk_id.1.abcd=0123456789abcdef.1700000000.; " +
		ForwardAuthCookie + "=N3q8ryccAAQEYiZxAAAAAAAAIgAAAAAAAAA; other=1"}}}
	b.Run("requestCookie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := requestCookie(r.Header, ForwardAuthCookie); !ok {
				b.Fatal("not found")
			}
		}
	})
	b.Run("net/http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Cookie(ForwardAuthCookie); err != nil {
				b.Fatal(err)
			}
		}
	})
}
