package ldapsync_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/ldapsync"
)

// An upper-case scheme (LDAPS://) passes validation, as url.Parse lower-cases
// it: the Verifier speaks TLS to it all the same, never plain text.
func TestVerifierUpperCaseSchemeIsTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		got <- string(b[:n])
		c.Close()
	}()
	cfg := ldapsync.Config{Name: "ad", Preset: ldapsync.PresetActiveDirectory, URL: "LDAPS://" + ln.Addr().String(),
		BindDN: "CN=svc,DC=x", BindPassword: "Service-Secret-42", BaseDNs: []string{"DC=x"}}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	v, err := ldapsync.NewVerifier([]ldapsync.Config{cfg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	v.CheckAccount(ctx, authn.User{ID: "u", Directory: "ad", Source: authn.SourceDirectory, ExternalID: "33919db7-6879-471e-90ae-8fd5a7f91453"})
	select {
	case s := <-got:
		if strings.Contains(s, "Service-Secret-42") {
			t.Errorf("service account password sent in plain text to an LDAPS:// port: %q", s)
		}
		if len(s) == 0 || s[0] != 0x16 { // a TLS handshake record
			t.Errorf("the first bytes are not a TLS handshake: %q", s)
		}
	case <-time.After(3 * time.Second):
		t.Error("the verifier did not connect")
	}
}
