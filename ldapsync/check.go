package ldapsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-ldap/ldap/v3"
)

// CheckReport is what `keyhall directory check` shows: what it found and,
// in plain words, what is wrong. Problems stop a sync from working; Notes
// are worth a look.
type CheckReport struct {
	Directory string
	URL       string
	TLS       string // "LDAPS", "StartTLS" or "none (insecure_plaintext)"
	Connected bool   // TCP and TLS up
	Bound     bool   // the service account's bind succeeded
	BindDN    string
	Bases     []BaseCount
	// Samples are up to three people as Keyhall would map them.
	Samples []Person
	// Groups lists each group mapping and what it found.
	Groups []GroupCheck
	// InChain (Active Directory) compares each mapped group's members as
	// Keyhall computes them with AD's in-chain rule.
	InChain  []InChain
	Problems []string
	Notes    []string
}

// BaseCount is what one base DN holds.
type BaseCount struct {
	DN     string
	People int // found by directory.user_filter
	Groups int // found by directory.group_filter
}

// GroupCheck is one group mapping's result.
type GroupCheck struct {
	Mapping string   // "dn CN=Rat,…" or "filter (cn=Fraktion-*)"
	Found   []string // DNs of the directory groups it takes
}

// Check connects, binds, counts people and groups under each base DN,
// maps three sample people and looks up the mapped groups, naming each
// problem in plain words. The error is nil when there is no problem, else
// the problems joined; the report holds what was found either way.
func (d *Directory) Check(ctx context.Context) (CheckReport, error) {
	r := CheckReport{Directory: d.cfg.Name, URL: d.cfg.URL, BindDN: d.cfg.BindDN}
	switch {
	case strings.HasPrefix(strings.ToLower(d.cfg.URL), "ldaps:"):
		r.TLS = "LDAPS"
	case d.cfg.StartTLS:
		r.TLS = "StartTLS"
	default:
		r.TLS = "none (insecure_plaintext)"
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.SyncDeadline)
	defer cancel()
	conn, err := d.connect(ctx)
	if err != nil {
		var se *stepError
		if errors.As(err, &se) && strings.HasPrefix(se.step, "bind") {
			r.Connected = true
		}
		r.Problems = append(r.Problems, d.connectProblem(err))
		err := r.err()
		return r, err
	}
	defer conn.Close()
	r.Connected, r.Bound = true, true

	count := func(base, filter string) (int, error) {
		n := 0
		err := d.pagedSearch(ctx, conn, base, filter, []string{"1.1"}, func(*ldap.Entry) error { n++; return nil })
		return n, err
	}
	for _, base := range d.cfg.BaseDNs {
		bc := BaseCount{DN: base}
		var err error
		if bc.People, err = count(base, d.cfg.UserFilter); err != nil {
			r.Problems = append(r.Problems, d.searchProblem(base, "directory.user_filter", d.cfg.UserFilter, err))
		}
		if bc.Groups, err = count(base, d.cfg.GroupFilter); err != nil {
			r.Problems = append(r.Problems, d.searchProblem(base, "directory.group_filter", d.cfg.GroupFilter, err))
		}
		r.Bases = append(r.Bases, bc)
	}
	people := 0
	for _, b := range r.Bases {
		people += b.People
	}
	if people == 0 && len(r.Problems) == 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("directory.user_filter %s finds nobody under %s: check the filter, the base DNs and that %s may read people there",
			d.cfg.UserFilter, strings.Join(d.cfg.BaseDNs, "; "), d.cfg.BindDN))
	}
	d.checkSamples(ctx, conn, &r)
	d.checkGroups(ctx, conn, &r)
	if d.cfg.Preset == PresetActiveDirectory && len(r.Problems) == 0 && len(d.cfg.Groups) > 0 {
		d.checkInChain(ctx, conn, &r)
	}
	err = r.err()
	return r, err
}

func (r *CheckReport) err() error {
	var errs []error
	seen := map[string]bool{}
	problems := r.Problems[:0]
	for _, p := range r.Problems {
		if seen[p] {
			continue
		}
		seen[p] = true
		problems = append(problems, p)
	}
	r.Problems = problems
	for _, p := range r.Problems {
		errs = append(errs, errors.New(p))
	}
	return errors.Join(errs...)
}

// connectProblem says in plain words why connecting or binding failed.
func (d *Directory) connectProblem(err error) string {
	var (
		host    x509.HostnameError
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		opErr   *net.OpError
		le      *ldap.Error
	)
	switch {
	case errors.As(err, &host):
		names := append(host.Certificate.DNSNames, ipStrings(host.Certificate.IPAddresses)...)
		return fmt.Sprintf("TLS: the directory's certificate is not made out for %q (it names %s); put a name it names in directory.url, or give the server a certificate with subjectAltName %s (%v)",
			d.host, strings.Join(names, ", "), d.host, err)
	case errors.As(err, &unknown):
		return fmt.Sprintf("TLS: the directory's certificate is signed by a CA Keyhall does not trust; set directory.ca_file to that CA's certificate (PEM) (%v)", err)
	case errors.As(err, &invalid):
		return fmt.Sprintf("TLS: the directory's certificate is not valid (expired, or not for a server) (%v)", err)
	case errors.As(err, &record), isTLSStep(err) && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return fmt.Sprintf("TLS: the server at %s does not speak TLS on this port; use ldaps:// with its LDAPS port (636) or ldap:// with start_tls (%v)", d.cfg.URL, err)
	case errors.As(err, &le) && le.ResultCode == ldap.LDAPResultInvalidCredentials:
		return fmt.Sprintf("bind: the directory refused %s with its password (code 49); check directory.bind_dn and directory.bind_password_file", d.cfg.BindDN)
	case errors.As(err, &le) && strings.Contains(err.Error(), "StartTLS"):
		return fmt.Sprintf("StartTLS: the server refused or failed it; check that it offers StartTLS, or use ldaps:// (%v)", err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("connect: no directory answers at %s; check directory.url and the firewall (%v)", d.cfg.URL, err)
	}
	return fmt.Sprintf("connect: %v", err)
}

// isTLSStep reports whether err comes from a TLS handshake.
func isTLSStep(err error) bool {
	var se *stepError
	return errors.As(err, &se) && strings.HasPrefix(se.step, "TLS handshake")
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// searchProblem says in plain words why a search failed.
func (d *Directory) searchProblem(base, setting, filter string, err error) string {
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultNoSuchObject:
			return fmt.Sprintf("directory.base_dns: %s does not exist in the directory (code 32)", base)
		case ldap.LDAPResultFilterError:
			return fmt.Sprintf("%s: the directory refused the filter %s (code 87)", setting, filter)
		case ldap.LDAPResultSizeLimitExceeded:
			return fmt.Sprintf("size limit: the directory lets %s read only part of %s (code 4); allow the service account unlimited results (OpenLDAP: limits dn.exact=\"%s\" size=unlimited)", d.cfg.BindDN, base, d.cfg.BindDN)
		case ldap.LDAPResultTimeLimitExceeded:
			return fmt.Sprintf("time limit: the directory stopped reading %s (code 11); allow the service account more time", base)
		case ldap.LDAPResultInsufficientAccessRights:
			return fmt.Sprintf("access: %s may not read %s (code 50)", d.cfg.BindDN, base)
		}
	}
	return fmt.Sprintf("search %s with %s: %s", base, setting, explain(err))
}

// checkSamples maps the first three people and names attributes none of
// them has.
func (d *Directory) checkSamples(ctx context.Context, conn *ldap.Conn, r *CheckReport) {
	if len(r.Problems) > 0 {
		return
	}
	var entries []*ldap.Entry
	for _, base := range d.cfg.BaseDNs {
		if len(entries) >= 3 {
			break
		}
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 3-len(entries), 0, false,
			d.cfg.UserFilter, d.personAttrs(), nil)
		res, err := conn.Search(req)
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			r.Problems = append(r.Problems, d.searchProblem(base, "directory.user_filter", d.cfg.UserFilter, err))
			return
		}
		if res != nil {
			entries = append(entries, res.Entries...)
		}
	}
	if len(entries) == 0 {
		return
	}
	a := d.cfg.Attributes
	missing := false // a needed attribute none of the samples has
	for _, at := range []struct {
		yaml, name string
		needed     bool
	}{
		{"id", a.ID, true}, {"username", a.Username, true}, {"display_name", a.DisplayName, false},
		{"email", a.Email, false}, {"account_control", a.AccountControl, true},
	} {
		if at.name == "" {
			continue
		}
		has := false
		for _, e := range entries {
			if len(e.GetEqualFoldRawAttributeValues(at.name)) > 0 {
				has = true
			}
		}
		if has {
			continue
		}
		msg := fmt.Sprintf("none of the %d sample people has the attribute %s (directory.attributes.%s)", len(entries), at.name, at.yaml)
		if at.needed {
			missing = true
			r.Problems = append(r.Problems, msg+"; check the name or the service account's right to read it")
		} else {
			r.Notes = append(r.Notes, msg)
		}
	}
	hidden := false // an AD sample without userAccountControl was reported
	for _, e := range entries {
		p, reason := d.mapPerson(e)
		if reason == "" && d.adStateHidden(e) {
			if !hidden { // once: the same cause for every sample
				hidden = true
				r.Problems = append(r.Problems, errADStateUnreadable(e.DN, a.AccountControl).Error())
			}
			continue
		}
		if reason != "" {
			if !missing {
				r.Problems = append(r.Problems, fmt.Sprintf("sample %s cannot be taken: %s", e.DN, reason))
			}
			continue
		}
		r.Samples = append(r.Samples, p)
	}
}

// checkGroups looks up each group mapping.
func (d *Directory) checkGroups(ctx context.Context, conn *ldap.Conn, r *CheckReport) {
	for i, m := range d.cfg.Groups {
		gc := GroupCheck{}
		if m.DN != "" {
			gc.Mapping = "dn " + m.DN
			res, err := conn.Search(ldap.NewSearchRequest(m.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				d.cfg.GroupFilter, []string{"1.1"}, nil))
			switch {
			case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
				r.Problems = append(r.Problems, fmt.Sprintf("directory.groups[%d].dn: %s does not exist in the directory", i, m.DN))
			case err != nil:
				r.Problems = append(r.Problems, fmt.Sprintf("directory.groups[%d].dn: %s: %s", i, m.DN, explain(err)))
			case len(res.Entries) == 0:
				r.Problems = append(r.Problems, fmt.Sprintf("directory.groups[%d].dn: %s is not found by directory.group_filter %s", i, m.DN, d.cfg.GroupFilter))
			default:
				gc.Found = []string{res.Entries[0].DN}
			}
		} else {
			gc.Mapping = "filter " + m.Filter
			for _, base := range d.cfg.groupBases() {
				err := d.pagedSearch(ctx, conn, base, "(&"+d.cfg.GroupFilter+m.Filter+")", []string{"1.1"}, func(e *ldap.Entry) error {
					gc.Found = append(gc.Found, e.DN)
					return nil
				})
				if err != nil {
					r.Problems = append(r.Problems, d.searchProblem(base, fmt.Sprintf("directory.groups[%d].filter", i), m.Filter, err))
				}
			}
			if len(gc.Found) == 0 {
				r.Notes = append(r.Notes, fmt.Sprintf("directory.groups[%d].filter %s finds no group", i, m.Filter))
			}
		}
		r.Groups = append(r.Groups, gc)
	}
}

// inChainRule is AD's LDAP_MATCHING_RULE_IN_CHAIN: memberOf through any
// depth of nested groups, computed by the domain controller.
const inChainRule = "1.2.840.113556.1.4.1941"

// InChain is one mapped group's members as Keyhall computes them (from the
// groups' member attributes, nesting resolved in Keyhall, primary groups
// added) and as AD's in-chain rule finds them, for a cross-check.
type InChain struct {
	Group   string // the Keyhall group name
	DN      string
	Keyhall int // members Keyhall computed
	AD      int // people the in-chain rule finds under the base DNs and the user filter
	// Missing and Extra name up to five people each that one count has and
	// the other lacks (by DN). People whose primary group it is are in
	// Keyhall's count only: AD's memberOf leaves them out.
	Missing, Extra []string
}

// checkInChain reads the directory as a sync would and compares each mapped
// group's members with what AD's in-chain rule finds; a difference that
// primary groups do not explain is a note: Keyhall would give people other
// groups than Windows does.
func (d *Directory) checkInChain(ctx context.Context, conn *ldap.Conn, r *CheckReport) {
	snap, err := d.read(ctx, conn)
	if err != nil {
		r.Problems = append(r.Problems, "a full read failed: "+explain(err))
		return
	}
	dnOf := make(map[string]string, len(snap.People)) // ExternalID → DN
	for _, p := range snap.People {
		dnOf[p.ExternalID] = p.DN
	}
	for _, g := range snap.Groups {
		ad := map[string]bool{} // DN keys
		filter := fmt.Sprintf("(&%s(memberOf:%s:=%s))", d.cfg.UserFilter, inChainRule, ldap.EscapeFilter(g.DN))
		for _, base := range d.cfg.BaseDNs {
			err := d.pagedSearch(ctx, conn, base, filter, []string{"1.1"}, func(e *ldap.Entry) error {
				ad[dnKey(e.DN)] = true
				return nil
			})
			if err != nil {
				r.Notes = append(r.Notes, fmt.Sprintf("the in-chain cross-check of %s failed: %s", g.DN, explain(err)))
				return
			}
		}
		c := InChain{Group: g.Name, DN: g.DN, Keyhall: len(g.Members), AD: len(ad)}
		ours := map[string]bool{}
		for _, id := range g.Members {
			k := dnKey(dnOf[id])
			ours[k] = true
			if !ad[k] && len(c.Extra) < 5 {
				c.Extra = append(c.Extra, dnOf[id])
			}
		}
		for k := range ad {
			if !ours[k] && len(c.Missing) < 5 {
				c.Missing = append(c.Missing, k)
			}
		}
		r.InChain = append(r.InChain, c)
		if len(c.Missing) > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("group %s (%s): AD's in-chain rule finds %d members, Keyhall %d; Keyhall lacks e.g. %s",
				g.Name, g.DN, c.AD, c.Keyhall, strings.Join(c.Missing, "; ")))
		}
	}
}
