package ldapsync

import (
	"strings"
	"testing"
)

// TestADBindData: the data code of AD's and Samba's bind answers is found,
// and nothing else is taken for one.
func TestADBindData(t *testing.T) {
	for msg, want := range map[string]string{
		"80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 52e, v3839":                                              "52e",
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1":                                              "775",
		"LDAP Result Code 49 \"Invalid Credentials\": 80090308: LdapErr: DSID-0C090439, comment: AcceptSecurityContext error, data 701, v4563": "701",
		"... data 773":        "773",
		"... DATA 533, v1":    "",
		"metadata 775, v1":    "",
		"data 52x, v1":        "",
		"data , data 530,":    "530",
		"data 123456789abc":   "",
		"":                    "",
		"invalid credentials": "",
	} {
		if got := adBindData(msg); got != want {
			t.Errorf("adBindData(%q) = %q, want %q", msg, got, want)
		}
	}
}

// FuzzADBindData: any message gives "" or a hex code of at most 8 digits
// that follows "data " in it.
func FuzzADBindData(f *testing.F) {
	f.Add("80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 52e, v3839")
	f.Add("data 775")
	f.Add("data data 1,")
	f.Fuzz(func(t *testing.T, msg string) {
		got := adBindData(msg)
		if got == "" {
			return
		}
		if len(got) > 8 || strings.Trim(got, "0123456789abcdef") != "" {
			t.Fatalf("adBindData(%q) = %q", msg, got)
		}
		if !strings.Contains(strings.ToLower(msg), "data "+got) {
			t.Fatalf("adBindData(%q) = %q, not in the message", msg, got)
		}
	})
}
