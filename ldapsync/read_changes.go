package ldapsync

// Incremental reads by the change marker (issue #13, "Incremental sync").
//
// The markers a read leaves (Snapshot.Markers, JSON, kept by the syncer in
// authn.DirectoryState.Markers) and how ReadChanges uses them:
//
//   - Active Directory (change marker uSNChanged): the domain controller's
//     name (rootDSE dsServiceName, the DN of its NTDS Settings object), its
//     invocationId (read from that object) and its highestCommittedUSN, all
//     read BEFORE the people, so a change made during the read has a higher
//     USN and is read next time. uSNChanged counts per domain controller: if
//     the controller is another one, its invocationId changed (restored from
//     a backup) or its highestCommittedUSN went backwards, ReadChanges
//     returns ErrFullReadNeeded and the syncer reads in full.
//   - OpenLDAP (change marker modifyTimestamp; chosen over contextCSN,
//     which needs the syncprov overlay that not every server has): the
//     newest modifyTimestamp among the people read, less an overlap of the
//     read's own duration and modifyTimestampOverlap. A change made while a
//     read ran may carry a time older than the newest one that read saw, but
//     not older by more than the read took; the overlap reads it again next
//     time. Re-reading is harmless: the syncer compares the mapped
//     attributes. The server's clock is compared only with itself.
//
// An incremental read gives the people changed since the markers (all their
// mapped attributes, so creates, updates, renames and disabled or expired
// flags), every mapped group in full with nesting resolved (a change in a
// nested group bumps only that group's marker, and a member removed by
// deleting her bumps no group), and the members of mapped groups Keyhall
// does not know yet. To turn the groups' member DNs into people it reads the
// id of every person under the base DNs and the filter (one attribute each;
// Snapshot.Found counts them for the safety valve), on a second connection
// at the same time as the groups (the two reads take most of the run). It
// never says who is gone: a person not read is unchanged, not a leaver (the
// full sync's job).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ErrFullReadNeeded: the markers cannot be read from incrementally (none,
// another kind, another domain controller, a restored one); read in full.
// The error wrapping it says why.
var ErrFullReadNeeded = errors.New("a full read is needed")

// ChangeReader is a Reader that can also read only what changed.
// *Directory is one.
type ChangeReader interface {
	Reader
	// ReadChanges reads what changed since markers (a previous Snapshot's
	// Markers): a Snapshot with Incremental set, or an error (one wrapping
	// ErrFullReadNeeded when markers cannot be used). known reports whether
	// Keyhall holds the person of an ExternalID; a member of a mapped group
	// it does not hold is read too.
	ReadChanges(ctx context.Context, markers string, known func(externalID string) bool) (Snapshot, error)
}

var _ ChangeReader = (*Directory)(nil)

// Kinds of change markers.
const (
	markerUSN             = "usn"
	markerModifyTimestamp = "modify_timestamp"
)

// modifyTimestampOverlap is added to a read's duration to find how far back
// the next incremental read of OpenLDAP starts (modifyTimestamp has whole
// seconds, and an operation's time is taken before it commits).
const modifyTimestampOverlap = time.Minute

// changeMarkers are what Snapshot.Markers holds.
type changeMarkers struct {
	Kind string `json:"kind"`
	// AD: the domain controller (dsServiceName), its invocationId and
	// highestCommittedUSN when the read began.
	DC           string `json:"dc,omitempty"`
	InvocationID string `json:"invocation_id,omitempty"`
	USN          int64  `json:"usn,omitempty"`
	// OpenLDAP: the next read takes the people with modifyTimestamp >= Since
	// (generalized time).
	Since string `json:"since,omitempty"`
}

// encode returns m as JSON, "" for no markers.
func (m changeMarkers) encode() string {
	if m.Kind == "" {
		return ""
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// markerKind is the kind of markers the configured change marker gives;
// "" if Keyhall knows no way to read changes by it.
func (d *Directory) markerKind() string {
	switch strings.ToLower(d.cfg.Attributes.ChangeMarker) {
	case "usnchanged":
		return markerUSN
	case "modifytimestamp":
		return markerModifyTimestamp
	}
	return ""
}

// modifiedSince is the Since of a read that saw newest as its newest
// modifyTimestamp and took took.
func modifiedSince(newest time.Time, took time.Duration) string {
	return newest.Add(-took - modifyTimestampOverlap).UTC().Format("20060102150405Z")
}

// usnMarkers reads AD's markers: rootDSE's dsServiceName and
// highestCommittedUSN, and the invocationId of the NTDS Settings object
// dsServiceName names.
func (d *Directory) usnMarkers(conn *ldap.Conn) (changeMarkers, error) {
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"dsServiceName", "highestCommittedUSN"}, nil))
	if err != nil {
		return changeMarkers{}, fmt.Errorf("read the rootDSE: %w", err)
	}
	if len(res.Entries) != 1 {
		return changeMarkers{}, fmt.Errorf("read the rootDSE: %d entries", len(res.Entries))
	}
	e := res.Entries[0]
	m := changeMarkers{Kind: markerUSN, DC: first(e, "dsServiceName")}
	if m.USN, err = strconv.ParseInt(first(e, "highestCommittedUSN"), 10, 64); err != nil || m.DC == "" {
		return changeMarkers{}, fmt.Errorf("the rootDSE has no dsServiceName or highestCommittedUSN (%q, %q): not Active Directory?",
			m.DC, first(e, "highestCommittedUSN"))
	}
	res, err = conn.Search(ldap.NewSearchRequest(m.DC, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"invocationId"}, nil))
	if err != nil {
		return changeMarkers{}, fmt.Errorf("read the invocationId of %s: %w", m.DC, err)
	}
	if len(res.Entries) != 1 {
		return changeMarkers{}, fmt.Errorf("read the invocationId of %s: %d entries", m.DC, len(res.Entries))
	}
	if m.InvocationID, err = guidString(res.Entries[0].GetRawAttributeValue("invocationId")); err != nil {
		return changeMarkers{}, fmt.Errorf("the invocationId of %s: %w", m.DC, err)
	}
	return m, nil
}

// fullReadNeeded is an error wrapping ErrFullReadNeeded.
func fullReadNeeded(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFullReadNeeded, fmt.Sprintf(format, args...))
}

// ReadChanges reads the people changed since markers, every mapped group
// and the unknown members of mapped groups (see the top of this file). Like
// Read it returns a complete Snapshot or an error, never a partial one.
func (d *Directory) ReadChanges(ctx context.Context, markers string, known func(externalID string) bool) (Snapshot, error) {
	var m changeMarkers
	switch kind := d.markerKind(); {
	case kind == "":
		return Snapshot{}, fullReadNeeded("Keyhall reads no changes by the change marker %q", d.cfg.Attributes.ChangeMarker)
	case markers == "":
		return Snapshot{}, fullReadNeeded("no change markers from the last sync")
	case json.Unmarshal([]byte(markers), &m) != nil || m.Kind != kind:
		return Snapshot{}, fullReadNeeded("the last sync's change markers are not of this directory's kind (%s)", kind)
	}
	start := d.now()
	ctx, cancel := context.WithTimeoutCause(ctx, d.cfg.SyncDeadline,
		fmt.Errorf("directory.sync_deadline of %v passed", d.cfg.SyncDeadline))
	defer cancel()
	conn, err := d.connect(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read directory %s: %w", d.cfg.Name, err)
	}
	defer conn.Close()

	snap, err := d.readChanges(ctx, conn, m, known)
	if err == nil {
		err = ctx.Err()
	}
	if errors.Is(err, ErrFullReadNeeded) {
		return Snapshot{}, err
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.Cause(ctx)) {
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		return Snapshot{}, fmt.Errorf("read changes of directory %s: %w", d.cfg.Name, err)
	}
	snap.ReadAt = start
	d.log.Info("directory changes read", "people", len(snap.People), "found", snap.Found, "groups", len(snap.Groups),
		"skipped", len(snap.Skipped), "duration", d.now().Sub(start))
	return snap, nil
}

// readChanges does ReadChanges' work on a bound connection.
func (d *Directory) readChanges(ctx context.Context, conn *ldap.Conn, m changeMarkers, known func(string) bool) (Snapshot, error) {
	start := d.now()
	next := m
	var changed string
	switch m.Kind {
	case markerUSN:
		cur, err := d.usnMarkers(conn)
		if err != nil {
			return Snapshot{}, err
		}
		switch {
		case !strings.EqualFold(cur.DC, m.DC):
			return Snapshot{}, fullReadNeeded("the domain controller is %s, the last sync read %s (uSNChanged counts per controller)", cur.DC, m.DC)
		case cur.InvocationID != m.InvocationID:
			return Snapshot{}, fullReadNeeded("the domain controller's invocationId changed from %s to %s (restored from a backup?)", m.InvocationID, cur.InvocationID)
		case cur.USN < m.USN:
			return Snapshot{}, fullReadNeeded("the domain controller's highestCommittedUSN went back from %d to %d (restored from a backup?)", m.USN, cur.USN)
		}
		changed = fmt.Sprintf("(&%s(%s>=%d))", d.cfg.UserFilter, ldap.EscapeFilter(d.cfg.Attributes.ChangeMarker), m.USN+1)
		next = cur
	case markerModifyTimestamp:
		if _, err := parseGeneralizedTime(m.Since); err != nil {
			return Snapshot{}, fullReadNeeded("the last sync's modifyTimestamp marker %q: %v", m.Since, err)
		}
		changed = fmt.Sprintf("(&%s(%s>=%s))", d.cfg.UserFilter, ldap.EscapeFilter(d.cfg.Attributes.ChangeMarker), m.Since)
	}

	// The groups are read on a connection of their own while everybody's id
	// is read on this one: neither needs the other until the members are
	// resolved, and the two take most of an incremental run's time.
	var (
		fetched  *fetchedGroups
		fetchErr error
	)
	fetchDone := make(chan struct{})
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer func() { stopFetch(); <-fetchDone }()
	if len(d.cfg.Groups) > 0 {
		go func() {
			defer close(fetchDone)
			gconn, err := d.connect(fetchCtx)
			if err != nil {
				fetchErr = err
				return
			}
			defer gconn.Close()
			fetched, fetchErr = d.fetchGroups(fetchCtx, gconn)
		}()
	} else {
		close(fetchDone)
	}

	// Everybody's id, to resolve the groups' members, and (AD) her primary
	// group, which does not list her as a member.
	index := map[string]string{}     // DN key → ExternalID
	dns := map[string]string{}       // ExternalID → DN
	primary := map[string][]string{} // RID → DN keys (readGroups)
	idAttrs := []string{d.cfg.Attributes.ID}
	ad := d.cfg.Preset == PresetActiveDirectory
	if ad {
		idAttrs = append(idAttrs, adPrimaryGroupID, adObjectSid)
	}
	// The end of each account: passing it changes no marker.
	expAttr, parseExp := d.cfg.Attributes.AccountExpires, parseFileTime
	if !ad {
		expAttr, parseExp = d.cfg.Attributes.ShadowExpire, parseShadowExpire
	}
	if expAttr != "" {
		idAttrs = append(idAttrs, expAttr)
	}
	present := map[string]time.Time{}
	for _, base := range d.cfg.BaseDNs {
		err := d.pagedSearch(ctx, conn, base, d.cfg.UserFilter, idAttrs, func(e *ldap.Entry) error {
			if id, err := d.externalID(e); err == nil {
				key := dnKey(e.DN)
				index[key] = id
				dns[id] = e.DN
				var end time.Time
				if v := first(e, expAttr); expAttr != "" && v != "" {
					end, _ = parseExp(v) // unreadable: the full read skips her; here she is present
				}
				present[id] = end
				if k, ok := primaryGroupKey(e.GetRawAttributeValue(adObjectSid), first(e, adPrimaryGroupID)); ok && ad {
					primary[k] = append(primary[k], key)
				}
			}
			return nil
		})
		if err != nil {
			return Snapshot{}, &stepError{step: "read the ids of the people under " + base, err: err}
		}
	}
	// The people changed since the markers.
	r := newPeopleRead(d.cfg.Name)
	for _, base := range d.cfg.BaseDNs {
		if err := d.readPeople(ctx, conn, base, changed, r); err != nil {
			return Snapshot{}, &stepError{step: "read the people changed under " + base, err: err}
		}
	}
	if len(d.cfg.Groups) > 0 {
		<-fetchDone
		if fetchErr != nil {
			return Snapshot{}, fetchErr
		}
		groups, err := fetched.resolve(index, primary)
		if err != nil {
			return Snapshot{}, err
		}
		r.snap.Groups = groups
		// Members Keyhall does not know and the read did not bring.
		want := map[string]bool{}
		for _, g := range groups {
			for _, id := range g.Members {
				if _, read := r.ids[id]; !read && !known(id) {
					want[id] = true
				}
			}
		}
		for id := range want {
			if err := d.readPerson(ctx, conn, dns[id], r); err != nil {
				return Snapshot{}, &stepError{step: "read the group member " + dns[id], err: err}
			}
		}
	}
	if m.Kind == markerModifyTimestamp && !r.modified.IsZero() {
		if since := modifiedSince(r.modified, d.now().Sub(start)); since > next.Since {
			next.Since = since
		}
	}
	snap := r.snap
	snap.Incremental, snap.Found, snap.Markers, snap.Present = true, len(index), next.encode(), present
	return snap, nil
}

// readPerson reads the one person at dn into r, if the user
// filter still finds her.
func (d *Directory) readPerson(ctx context.Context, conn *ldap.Conn, dn string, r *peopleRead) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	attrs := d.personAttrs()
	mtime := d.markerKind() == markerModifyTimestamp
	if mtime {
		attrs = append(attrs, d.cfg.Attributes.ChangeMarker)
	}
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		d.cfg.UserFilter, attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil // gone since the ids were read
	}
	if err != nil {
		return err
	}
	for _, e := range res.Entries {
		if err := r.add(d, e, mtime); err != nil {
			return err
		}
	}
	return nil
}
