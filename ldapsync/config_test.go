package ldapsync

import (
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		Name:         "ad",
		URL:          "ldaps://dc1.example.org",
		BindDN:       "CN=keyhall-sync,OU=Service,DC=example,DC=org",
		BindPassword: "secret",
		BaseDNs:      []string{"OU=Staff,DC=example,DC=org"},
		Preset:       PresetActiveDirectory,
		Groups: []GroupMapping{
			{DN: "CN=Ratsmitglieder,OU=Gremien,DC=example,DC=org", Name: "rat"},
			{Filter: "(cn=Fraktion-*)"},
		},
	}.WithDefaults()
}

func TestWithDefaultsPresets(t *testing.T) {
	ad := Config{Preset: PresetActiveDirectory}.WithDefaults()
	if ad.Attributes.ID != "objectGUID" || ad.Attributes.Username != "sAMAccountName" ||
		ad.Attributes.AccountControl != "userAccountControl" || ad.Attributes.AccountExpires != "accountExpires" ||
		ad.Attributes.ChangeMarker != "uSNChanged" || ad.Attributes.Member != "member" || ad.Attributes.Street != "streetAddress" {
		t.Errorf("AD attributes = %+v", ad.Attributes)
	}
	if ad.UserFilter != "(&(objectClass=user)(objectCategory=person))" || ad.GroupFilter != "(objectClass=group)" {
		t.Errorf("AD filters = %q %q", ad.UserFilter, ad.GroupFilter)
	}
	ol := Config{Preset: PresetOpenLDAP, Attributes: Attributes{Username: "mail"}}.WithDefaults()
	if ol.Attributes.ID != "entryUUID" || ol.Attributes.LockedTime != "pwdAccountLockedTime" ||
		ol.Attributes.ShadowExpire != "shadowExpire" || ol.Attributes.ChangeMarker != "modifyTimestamp" {
		t.Errorf("OpenLDAP attributes = %+v", ol.Attributes)
	}
	if ol.Attributes.Username != "mail" {
		t.Errorf("an attribute set in the config was overridden: username = %q", ol.Attributes.Username)
	}
	if ol.Attributes.AccountControl != "" {
		t.Errorf("OpenLDAP got AD's account control attribute %q", ol.Attributes.AccountControl)
	}
	want := Config{
		PageSize: 500, Timeout: 10 * time.Second, SyncDeadline: 10 * time.Minute, Interval: 5 * time.Minute,
		FullInterval: 24 * time.Hour, GracePeriod: 30 * 24 * time.Hour, MaxDisableFraction: 0.10,
		MaxDisableCount: 500, MaxStaleness: 15 * time.Minute,
	}
	if ad.PageSize != want.PageSize || ad.Timeout != want.Timeout || ad.SyncDeadline != want.SyncDeadline ||
		ad.Interval != want.Interval || ad.FullInterval != want.FullInterval || ad.GracePeriod != want.GracePeriod ||
		ad.MaxDisableFraction != want.MaxDisableFraction || ad.MaxDisableCount != want.MaxDisableCount ||
		ad.MaxStaleness != want.MaxStaleness {
		t.Errorf("defaults = %+v", ad)
	}
	kept := Config{Preset: PresetOpenLDAP, PageSize: 100, Timeout: time.Second}.WithDefaults()
	if kept.PageSize != 100 || kept.Timeout != time.Second {
		t.Errorf("set values overridden: %d %v", kept.PageSize, kept.Timeout)
	}
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   []string // each must appear in the error
	}{
		{"nothing", func(c *Config) { *c = Config{}.WithDefaults() },
			[]string{"directory.name: missing", "directory.url: missing", "directory.bind_dn: missing",
				"directory.bind_password_file", "directory.base_dns: missing", "directory.preset: missing"}},
		{"other id attribute", func(c *Config) { c.Attributes.ID = "employeeID" }, []string{"directory.attributes.id", "objectGUID"}},
		{"id attribute, other case", func(c *Config) { c.Attributes.ID = "OBJECTGUID" }, nil},
		{"plain ldap", func(c *Config) { c.URL = "ldap://dc1.example.org" }, []string{"directory.url", "plain text"}},
		{"plain ldap with start_tls", func(c *Config) { c.URL = "ldap://dc1.example.org"; c.StartTLS = true }, nil},
		{"insecure to another host", func(c *Config) { c.URL = "ldap://dc1.example.org"; c.InsecurePlaintext = true },
			[]string{"directory.insecure_plaintext: allowed only for ldap://127.0.0.1"}},
		{"insecure to localhost name", func(c *Config) { c.URL = "ldap://localhost:3389"; c.InsecurePlaintext = true },
			[]string{"directory.insecure_plaintext"}},
		{"insecure to 127.0.0.1", func(c *Config) { c.URL = "ldap://127.0.0.1:3389"; c.InsecurePlaintext = true }, nil},
		{"http", func(c *Config) { c.URL = "http://dc1" }, []string{`directory.url: scheme "http"`}},
		{"ldaps with start_tls", func(c *Config) { c.StartTLS = true }, []string{"directory.start_tls"}},
		{"url with base", func(c *Config) { c.URL = "ldaps://dc1/dc=example,dc=org" }, []string{"directory.url", "path"}},
		{"bad bind dn", func(c *Config) { c.BindDN = "keyhall-sync" }, []string{"directory.bind_dn", "not a DN"}},
		{"bad base", func(c *Config) { c.BaseDNs = append(c.BaseDNs, "ou=x,,dc=y=") }, []string{"directory.base_dns[1]"}},
		{"bad user filter", func(c *Config) { c.UserFilter = "(objectClass=user" }, []string{"directory.user_filter"}},
		{"bad group filter", func(c *Config) { c.GroupFilter = "objectClass=group)" }, []string{"directory.group_filter"}},
		{"mapping neither", func(c *Config) { c.Groups = append(c.Groups, GroupMapping{Name: "x"}) }, []string{"directory.groups[2]: give either dn or filter"}},
		{"mapping both", func(c *Config) { c.Groups[0].Filter = "(cn=x)" }, []string{"directory.groups[0]", "not both"}},
		{"mapping bad dn", func(c *Config) { c.Groups[0].DN = "Ratsmitglieder" }, []string{"directory.groups[0].dn"}},
		{"mapping bad filter", func(c *Config) { c.Groups[1].Filter = "(cn=" }, []string{"directory.groups[1].filter"}},
		{"mapping dn without name", func(c *Config) { c.Groups[0].Name = "" }, []string{"directory.groups[0].name: missing"}},
		{"mapping name not canonical", func(c *Config) { c.Groups[0].Name = "Rat" }, []string{"directory.groups[0].name", "not a valid group name"}},
		{"mapping name twice", func(c *Config) { c.Groups[1].Name = "rat" }, []string{"directory.groups[1].name", "already taken"}},
		{"name not canonical", func(c *Config) { c.Name = "Stadt AD" }, []string{"directory.name"}},
		{"preset unknown", func(c *Config) { c.Preset = "novell" }, []string{"directory.preset", "novell"}},
		{"page size", func(c *Config) { c.PageSize = 5000 }, []string{"directory.page_size"}},
		{"timeout", func(c *Config) { c.Timeout = -time.Second }, []string{"directory.timeout"}},
		{"deadline below timeout", func(c *Config) { c.SyncDeadline = time.Second }, []string{"directory.sync_deadline"}},
		{"fraction", func(c *Config) { c.MaxDisableFraction = 1.5 }, []string{"directory.max_disable_fraction"}},
		{"no id attribute", func(c *Config) { c.Preset = "x"; c.Attributes = Attributes{} }, []string{"directory.attributes.id: missing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.Groups = append([]GroupMapping(nil), c.Groups...)
			tc.change(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error naming %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}
