package ldapsync

import (
	"context"
	"time"
)

// Person is one person of the directory as Keyhall maps her.
type Person struct {
	// ExternalID is the stable id in canonical form: a lower-case UUID
	// string (entryUUID; AD's objectGUID converted from its mixed-endian
	// bytes, so t52RM3loHkeQro/Vp/kUUw== is 33919db7-6879-471e-90ae-8fd5a7f91453).
	ExternalID    string
	DN            string
	Username      string // canonical (authn.CanonicalName)
	DisplayName   string
	Email         string
	Phone         string
	PostalAddress []string // street; postcode and town
	// Disabled: AD userAccountControl bit 0x2; OpenLDAP pwdAccountLockedTime
	// 000001010000Z (administratively locked for good).
	Disabled bool
	// ExpiresAt: AD accountExpires (FILETIME; 0 and 2^63−1 mean never),
	// OpenLDAP shadowExpire (days since 1970). Zero means never.
	ExpiresAt time.Time
	// Locked: the directory has locked her out for now (AD lockout, OpenLDAP
	// ppolicy); not a leaver.
	Locked bool
}

// Inactive reports whether p may not sign in at now: disabled or expired.
func (p Person) Inactive(now time.Time) bool {
	return p.Disabled || (!p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt))
}

// Group is one mapped directory group.
type Group struct {
	Name        string // the Keyhall group name from the mapping (e.g. "rat")
	ExternalID  string // canonical, as Person.ExternalID
	DN          string
	DisplayName string
	// Members are the ExternalIDs of the people in the group, nested groups
	// resolved, each once, sorted. People outside the base DNs or the user
	// filter are not members.
	Members []string
}

// Snapshot is one complete read of a directory. A read that did not finish
// (error, size or time limit, deadline, cancelled) yields no Snapshot.
type Snapshot struct {
	Directory string // Config.Name
	People    []Person
	Groups    []Group
	ReadAt    time.Time
	// Skipped are entries under the base DNs and the user filter that could
	// not be mapped to a Person (no id, a username Keyhall refuses, a value
	// it cannot read). They are not in People and not group members; one
	// whose id could be read carries it, so that the syncer can leave that
	// person as she is instead of treating her as gone.
	Skipped []Skipped
	// Markers are the change markers (JSON, the reader's own) that the next
	// incremental read starts from (ChangeReader); "" if there are none.
	Markers string
	// Incremental: People holds only the people changed since the markers
	// ReadChanges was given (and unknown members of the mapped groups);
	// Groups are complete. A person not in People is unchanged, not gone.
	// Found is how many people the directory holds under the base DNs and
	// the user filter (the safety valve's count).
	Incremental bool
	Found       int
	// Present (incremental reads) holds everybody under the base DNs and
	// the user filter, by ExternalID, with the end of her account (zero:
	// never). No change marker shows a person who left the base DNs or the
	// filter, was deleted, or whose account's end passed: the syncer finds
	// those here.
	Present map[string]time.Time
}

// Skipped is one directory entry a read could not map, and why.
type Skipped struct {
	DN         string
	ExternalID string // "" when the id itself could not be read
	Reason     string
}

// Reader reads a directory. *Directory (read.go) reads a real one; tests of
// the syncer may read a Snapshot they built.
type Reader interface {
	Read(ctx context.Context) (Snapshot, error)
}
