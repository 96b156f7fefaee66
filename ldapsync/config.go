package ldapsync

import "time"

// Preset names a kind of directory whose attribute names Keyhall knows.
type Preset string

const (
	PresetActiveDirectory Preset = "activedirectory" // also Samba AD
	PresetOpenLDAP        Preset = "openldap"
)

// Config describes one directory. cmd/keyhall fills it from the YAML
// (`directory:`), reading BindPassword from its file; WithDefaults fills in
// what the preset and the defaults give, and Validate names every problem.
type Config struct {
	// Name is the directory's short name, unique among the configured
	// directories and stored with each person it brings (authn.User.Directory).
	Name string
	// URL is ldaps://host[:port] or ldap://host[:port].
	URL string
	// StartTLS upgrades an ldap:// connection; required for ldap:// unless
	// InsecurePlaintext, which is allowed only for 127.0.0.1 (tests).
	StartTLS          bool
	InsecurePlaintext bool
	CAFile            string // PEM; "" = the system's roots
	BindDN            string
	BindPassword      string
	BaseDNs           []string
	UserFilter        string        // e.g. (&(objectClass=user)(objectCategory=person)); preset default
	GroupFilter       string        // preset default
	PageSize          int           // paged-results page size; default 500
	Timeout           time.Duration // each request (and dial); default 10 s
	SyncDeadline      time.Duration // a whole read; default 10 min
	Preset            Preset
	Attributes        Attributes
	// Groups maps directory groups to Keyhall group names; only mapped
	// groups are imported.
	Groups []GroupMapping

	// Interval between incremental syncs (default 5 min) and FullInterval
	// between full syncs (default 24 h), for serve.
	Interval     time.Duration
	FullInterval time.Duration
	// GracePeriod: how long a leaver stays disabled before she is deleted
	// with her factors (default 30 days).
	GracePeriod time.Duration
	// The safety valve (sync.go): a complete read that would disable or
	// delete more than MaxDisableFraction of the directory's people
	// (default 0.10) or more than MaxDisableCount (default 500) changes none
	// of them without AllowMassChange.
	MaxDisableFraction float64
	MaxDisableCount    int
	// MaxStaleness: how old the last known state of a person may be when the
	// directory does not answer a live check (default 15 min).
	MaxStaleness time.Duration
	// LockoutThreshold is the directory's own lockout threshold (AD
	// "account lockout threshold", ppolicy pwdMaxFailure); 0 = unknown.
	// Keyhall's per-account password limit must stay below it.
	LockoutThreshold int
	// LockoutStopsKey: a person the directory reports locked may not sign
	// in with her key either (default false).
	LockoutStopsKey bool
}

// Attributes names the directory attributes Keyhall reads. A preset fills
// every one; a config may override each.
type Attributes struct {
	ID          string // objectGUID | entryUUID
	Username    string // sAMAccountName (or userPrincipalName) | uid
	DisplayName string // displayName | cn (displayName where present)
	Email       string // mail
	Phone       string // telephoneNumber
	Street      string // streetAddress | street
	PostalCode  string // postalCode
	Locality    string // l
	// AD: userAccountControl (disabled bit 0x2) and accountExpires
	// (FILETIME). OpenLDAP: pwdAccountLockedTime and shadowExpire.
	AccountControl string
	AccountExpires string
	LockedTime     string
	ShadowExpire   string
	GroupName      string // cn
	Member         string // member | member (or uniqueMember)
	ChangeMarker   string // uSNChanged | modifyTimestamp
}

// GroupMapping takes one directory group (by DN) or the groups a filter
// finds (each under its own cn, lower-cased, unless Name is set) into
// Keyhall.
type GroupMapping struct {
	DN     string
	Filter string
	Name   string // the Keyhall group name, e.g. "rat"
}
