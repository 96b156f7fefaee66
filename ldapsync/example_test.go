package ldapsync_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/keyhall/keyhall/ldapsync"
)

// A city's Active Directory read over LDAPS: every person under the base DN
// and the council group as "rat", nested groups resolved.
func ExampleNewDirectory() {
	d, err := ldapsync.NewDirectory(ldapsync.Config{
		Name:         "ad",
		URL:          "ldaps://dc1.stadt.example",
		CAFile:       "/etc/keyhall/ad-ca.pem",
		BindDN:       "CN=keyhall-sync,OU=Dienste,DC=stadt,DC=example",
		BindPassword: "…", // from directory.bind_password_file
		BaseDNs:      []string{"OU=Verwaltung,DC=stadt,DC=example"},
		Preset:       ldapsync.PresetActiveDirectory,
		Groups: []ldapsync.GroupMapping{
			{DN: "CN=Ratsmitglieder,OU=Gremien,OU=Verwaltung,DC=stadt,DC=example", Name: "rat"},
		},
	}, slog.Default())
	if err != nil {
		fmt.Println(err) // every problem of the config, by its YAML name
		return
	}
	snap, err := d.Read(context.Background())
	if err != nil {
		fmt.Println(err) // nothing was read: the syncer changes nobody
		return
	}
	fmt.Println(len(snap.People), "people,", len(snap.Groups), "groups")
}
