package ldapsync

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyhall/keyhall/authn"
)

// dirGroup is one directory group as read: every group under the base DNs
// that the group filter finds, mapped or not, since a mapped group may hold
// people through groups that are not mapped.
type dirGroup struct {
	dn      string
	id      string
	cn      string
	display string
	members []string // DN keys
	rid     string   // AD: the RID key of its objectSid (groupSIDKey), for primary groups
}

// memberAttrs are the attributes that hold a group's members.
func (d *Directory) memberAttrs() []string {
	m := d.cfg.Attributes.Member
	if d.cfg.Preset == PresetOpenLDAP && strings.EqualFold(m, "member") {
		return []string{m, "uniqueMember"} // groupOfUniqueNames
	}
	return []string{m}
}

// The AD attributes of primary groups: a person's primaryGroupID is the RID
// (the last part of the objectSid) of her primary group, which does not
// list her in its member attribute (Domain Users, by default, for all).
const (
	adPrimaryGroupID = "primaryGroupID"
	adObjectSid      = "objectSid"
)

// readGroups reads all groups with their members, finds the mapped ones and
// resolves their members to the people read (people: DN key → ExternalID),
// nested groups included. primary (AD) holds, by a group's RID, the people
// whose primary group it is: its members too.
func (d *Directory) readGroups(ctx context.Context, conn *ldap.Conn, people map[string]string, primary map[string][]string) ([]Group, error) {
	f, err := d.fetchGroups(ctx, conn)
	if err != nil {
		return nil, err
	}
	return f.resolve(people, primary)
}

// fetchedGroups are the groups as read, before their members are resolved
// to people: readGroups' first half, which needs no people.
type fetchedGroups struct {
	all  map[string]*dirGroup // DN key → group
	want []mappedGroup        // the mapped ones
}

// mappedGroup is a mapped group: its DN key and Keyhall name.
type mappedGroup struct {
	key, name string
}

// fetchGroups reads all groups with their members and finds the mapped
// ones.
func (d *Directory) fetchGroups(ctx context.Context, conn *ldap.Conn) (*fetchedGroups, error) {
	a := d.cfg.Attributes
	all := map[string]*dirGroup{} // DN key → group
	attrs := append([]string{a.ID, a.GroupName, a.DisplayName}, d.memberAttrs()...)
	if d.cfg.Preset == PresetActiveDirectory {
		attrs = append(attrs, adObjectSid)
	}
	add := func(e *ldap.Entry) error {
		key := dnKey(e.DN)
		if _, seen := all[key]; seen {
			return nil
		}
		g := &dirGroup{dn: e.DN, cn: first(e, a.GroupName), display: first(e, a.DisplayName)}
		g.id, _ = d.externalID(e) // "" if unreadable; the syncer goes by name
		members, err := d.members(ctx, conn, e)
		if err != nil {
			return fmt.Errorf("members of %s: %w", e.DN, err)
		}
		if k, ok := groupSIDKey(e.GetRawAttributeValue(adObjectSid)); ok && d.cfg.Preset == PresetActiveDirectory {
			g.rid = k
		}
		g.members = members
		all[key] = g
		return nil
	}
	bases := d.cfg.groupBases()
	for _, base := range bases {
		if err := d.pagedSearchN(ctx, conn, groupPageSize, base, d.cfg.GroupFilter, attrs, add); err != nil {
			return nil, &stepError{step: "read groups under " + base, err: err}
		}
	}
	// A group mapped by DN outside the group base DNs is read where it is.
	for i, m := range d.cfg.Groups {
		if m.DN == "" {
			continue
		}
		if _, ok := all[dnKey(m.DN)]; ok {
			continue
		}
		res, err := conn.Search(ldap.NewSearchRequest(m.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			d.cfg.GroupFilter, attrs, nil))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			continue // not found: refused below
		}
		if err == nil && len(res.Entries) == 1 {
			err = add(res.Entries[0])
		}
		if err != nil {
			return nil, &stepError{step: fmt.Sprintf("read the group of directory.groups[%d] %s", i, m.DN), err: err}
		}
	}

	// The mapped groups, each with its Keyhall name.
	var want []mappedGroup
	for i, m := range d.cfg.Groups {
		if m.DN != "" {
			key := dnKey(m.DN)
			if _, ok := all[key]; !ok {
				return nil, fmt.Errorf("directory.groups[%d]: the group %s does not exist or is not found by directory.group_filter; the read is refused so that nobody loses this group by mistake", i, m.DN)
			}
			want = append(want, mappedGroup{key, m.Name})
			continue
		}
		filter := "(&" + d.cfg.GroupFilter + m.Filter + ")"
		found := 0
		for _, base := range bases {
			err := d.pagedSearch(ctx, conn, base, filter, []string{"1.1"}, func(e *ldap.Entry) error {
				key := dnKey(e.DN)
				g, ok := all[key]
				if !ok {
					return nil // under another base DN only; read there
				}
				found++
				name := m.Name
				if name == "" {
					n, err := authn.CanonicalName(g.cn)
					if err != nil {
						return fmt.Errorf("directory.groups[%d]: the group %s has no name Keyhall can use (%q: %v); give it a mapping by dn with a name", i, e.DN, g.cn, err)
					}
					name = n
				}
				want = append(want, mappedGroup{key, name})
				return nil
			})
			if err != nil {
				return nil, &stepError{step: fmt.Sprintf("find the groups of directory.groups[%d] under %s", i, base), err: err}
			}
		}
		if found == 0 {
			d.log.Warn("group mapping finds no group", "mapping", i, "filter", m.Filter)
		}
	}
	return &fetchedGroups{all: all, want: want}, nil
}

// resolve resolves the mapped groups' members to people (people: DN key →
// ExternalID), nested groups included; primary (AD) holds, by a group's
// RID, the people whose primary group it is.
func (f *fetchedGroups) resolve(people map[string]string, primary map[string][]string) ([]Group, error) {
	all, want := f.all, f.want
	for _, g := range all {
		if g.rid != "" {
			g.members = append(g.members, primary[g.rid]...)
		}
	}

	var out []Group
	byName := map[string]string{} // Keyhall name → DN key
	taken := map[[2]string]bool{} // (name, DN key) already out
	for _, w := range want {
		if taken[[2]string{w.name, w.key}] {
			continue // found by two mappings under the same name
		}
		if other, dup := byName[w.name]; dup {
			return nil, fmt.Errorf("directory.groups: the Keyhall group %q would be both %s and %s; give one of them another name", w.name, all[other].dn, all[w.key].dn)
		}
		byName[w.name] = w.key
		taken[[2]string{w.name, w.key}] = true
		g := all[w.key]
		disp := g.display
		if disp == "" {
			disp = g.cn
		}
		out = append(out, Group{Name: w.name, ExternalID: g.id, DN: g.dn, DisplayName: disp,
			Members: closure(w.key, all, people)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// closure returns the ExternalIDs of the people in the group key, through
// nested groups to any depth, each once, sorted. A cycle of groups is
// walked once. Members that are neither a person read nor a group read
// (outside the base DNs, not found by the filters) are left out.
func closure(key string, all map[string]*dirGroup, people map[string]string) []string {
	seen := map[string]bool{key: true}
	ids := map[string]bool{}
	stack := []string{key}
	for len(stack) > 0 {
		g := all[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		for _, m := range g.members {
			if id, ok := people[m]; ok {
				ids[id] = true
			} else if _, ok := all[m]; ok && !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		}
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// members returns the DN keys of a group entry's members. A group too large
// for one answer comes with AD's range option ("member;range=0-1499"): the
// rest is fetched range by range until the one ending in "*".
func (d *Directory) members(ctx context.Context, conn *ldap.Conn, e *ldap.Entry) ([]string, error) {
	var out []string
	for _, attr := range d.memberAttrs() {
		next := -1 // the next range to fetch, -1 when complete
		for _, ea := range e.Attributes {
			name, low, high, err := parseRange(ea.Name)
			if !strings.EqualFold(name, attr) {
				continue
			}
			switch {
			case err == errNoRange:
			case err != nil:
				return nil, err
			case low != 0:
				return nil, fmt.Errorf("the first range of %s starts at %d, not 0", attr, low)
			case high != -1:
				next = high + 1
			}
			out = appendKeys(out, ea.Values)
		}
		for next >= 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			want := fmt.Sprintf("%s;range=%d-*", attr, next)
			res, err := conn.Search(ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
				0, 0, false, "(objectClass=*)", []string{want}, nil))
			if err != nil {
				return nil, fmt.Errorf("fetch %s: %w", want, err)
			}
			if len(res.Entries) != 1 {
				return nil, fmt.Errorf("fetch %s: %d entries, want 1", want, len(res.Entries))
			}
			got := false
			for _, ea := range res.Entries[0].Attributes {
				name, low, high, err := parseRange(ea.Name)
				if err != nil || !strings.EqualFold(name, attr) {
					continue
				}
				if low != next {
					return nil, fmt.Errorf("fetch %s: got range %s", want, ea.Name)
				}
				got = true
				out = appendKeys(out, ea.Values)
				next = -1
				if high != -1 {
					next = high + 1
				}
			}
			if !got {
				return nil, fmt.Errorf("fetch %s: the directory sent no such range", want)
			}
		}
	}
	return out, nil
}

// appendKeys appends the DN keys of member values. uniqueMember values may
// carry an optional UID ("cn=x,dc=y#'0101'B", RFC 4517 §3.3.21), dropped.
func appendKeys(out []string, vals []string) []string {
	for _, v := range vals {
		if i := strings.LastIndex(v, "#'"); i > 0 && strings.HasSuffix(v, "'B") {
			v = v[:i]
		}
		out = append(out, dnKey(v))
	}
	return out
}
