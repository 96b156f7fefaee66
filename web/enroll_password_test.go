package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestChoosePageLeadsToPassword: a local person without a password whose
// key is stored, and who lands on the choose page (her link taken up again,
// or the codes asked for too early), is led to the password step, not to
// recovery codes that answer "choose your password first".
func TestChoosePageLeadsToPassword(t *testing.T) {
	f := newFixture(t)
	anna := f.addUser("anna")
	inv := f.invite(anna)
	b := f.client()
	if res, body := b.form(linkPath(t, inv.Link), url.Values{}); res.StatusCode != http.StatusOK {
		t.Fatalf("redeem: %d\n%s", res.StatusCode, body)
	}
	status, options := b.beginKey()
	if status != http.StatusOK {
		t.Fatalf("begin key: %d %s", status, options)
	}
	if res, body := b.finishKey(t, options); res.StatusCode != http.StatusOK {
		t.Fatalf("finish key: %d %s", res.StatusCode, body)
	}
	for _, tc := range []struct{ what, method, path string }{
		{"codes asked for before the password", "POST", "/enroll/recovery"},
		{"her link opened again", "GET", linkPath(t, inv.Link)},
	} {
		var body string
		if tc.method == "POST" {
			_, body = b.form(tc.path, url.Values{})
		} else {
			_, body = b.get(tc.path)
		}
		if !strings.Contains(body, `id="to-password"`) || strings.Contains(body, `id="choose-codes"`) {
			t.Errorf("%s: the page offers no way to the password step\n%s", tc.what, body)
		}
	}
}
