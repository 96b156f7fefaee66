package main

import (
	"slices"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll"
	"github.com/keyhall/keyhall/enroll/desk"
)

// TestWebConfig checks what serve hands to web: the OIDC provider's keys
// and clients, and the enrollment service's settings and mail.
func TestWebConfig(t *testing.T) {
	cfg := defaultConfig()
	cfg.WebAuthn.RPName = "Stadt Münster"
	cfg.Letter.SenderName = "Stadt Münster"
	cfg.Policy.Groups = map[string]GroupPolicy{"rat": {Level: "phrh", Protected: true, ResetApproval: true}, "it": {}}
	cfg.Admin.Roles.Helpdesk = []string{"it"}
	cfg.Admin.Roles.Admin = []string{"it-admins"}
	cfg.OIDC.CodeLifetime = Duration(3 * time.Minute)
	cfg.OIDC.Clients = []OIDCClient{{ID: "ris", SecretSHA256: sumHex, RedirectURIs: []string{"https://ris.example/cb"}}}
	cfg.OIDC.Clients[0].setDefaults()
	keys := Keys{Cookie: make([]byte, 64), Encryption: [32]byte{1}, OIDC: [32]byte{2}}
	publicURL, err := cfg.parsedPublicURL()
	if err != nil {
		t.Fatal(err)
	}
	wc, err := webConfig(cfg, keys, publicURL, nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	o := wc.OIDC
	if o.CryptoKey != keys.OIDC || o.EncryptionKey != keys.Encryption || o.CodeLifetime != 3*time.Minute ||
		len(o.Clients) != 1 || o.Clients[0].ID != "ris" || len(o.Clients[0].SecretSHA256) != 32 {
		t.Errorf("OIDC: %+v", o)
	}
	e := wc.Enroll
	if e.Store != nil || e.PublicURL != publicURL || e.RPName != "Stadt Münster" || e.EncryptionKey != keys.Encryption ||
		!e.Policy.Groups["rat"].RefuseSynced || e.Notices.Sender.Name != "Stadt Münster" {
		t.Errorf("Enroll: %+v", e)
	}
	if _, ok := e.Mailer.(enroll.LogMailer); !ok {
		t.Errorf("Enroll.Mailer without mail.smtp_host = %T, want enroll.LogMailer", e.Mailer)
	}
	// The console's desk: roles, protected groups, dual control, the
	// letters' sender and the mail; the store comes when it is open.
	d := wc.Desk
	if !slices.Equal(d.Roles[desk.RoleHelpdesk], []string{"it"}) || !slices.Equal(d.Roles[desk.RoleAdmin], []string{"it-admins"}) ||
		d.AdminGroup != "keyhall-admins" || !slices.Equal(d.Protected, []string{"rat"}) || !slices.Equal(d.Approval, []string{"rat"}) ||
		d.Sender.Name != "Stadt Münster" || d.Mailer == nil || d.Store != nil {
		t.Errorf("Desk: %+v", d)
	}
}
