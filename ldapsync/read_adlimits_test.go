package ldapsync_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/keyhall/keyhall/ldapsync"
)

// adLimits is a small LDAP server that enforces what Active Directory
// enforces and Samba does not: at most 1000 entries a page (more unpaged
// ends with code 4) and at most 1500 values of member in one answer (the
// rest by range retrieval, member;range=1500-*).
type adLimits struct {
	URL string

	people []adEntry
	groups []adEntry

	mu       sync.Mutex // guards the fields below
	pages    int        // people pages served
	maxPage  int        // most entries in one page
	ranges   int        // range fetches served
	fault    string     // "", "error", "sizelimit", "close", "hang": on the second people page
	faulted  bool
	hang     chan struct{}
	closeAll func()
}

type adEntry struct {
	dn    string
	attrs map[string][]string
}

const (
	adMaxPage  = 1000
	adMaxRange = 1500
	adBase     = "DC=ad,DC=test"
)

func adGUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return string(b)
}

// startADLimits serves people Person 0…n-1 under OU=Staff, a group Big with
// every person, a nested group Small and extra members outside the base
// (so Big holds n+extra+1 values), and a group Rat with Small.
func startADLimits(t *testing.T, n, extra int) *adLimits {
	t.Helper()
	s := &adLimits{hang: make(chan struct{})}
	var big []string
	for i := range n {
		dn := fmt.Sprintf("CN=Person %d,OU=Staff,%s", i, adBase)
		uac := "512"
		if i == 1 {
			uac = "514" // disabled
		}
		exp := "9223372036854775807"
		switch i {
		case 2:
			exp = "0"
		case 3:
			exp = "116444736000000000" // 1970-01-01: expired
		}
		s.people = append(s.people, adEntry{dn, map[string][]string{
			"objectGUID": {adGUID()}, "sAMAccountName": {fmt.Sprintf("P%d", i)}, "displayName": {fmt.Sprintf("Person %d", i)},
			"userAccountControl": {uac}, "accountExpires": {exp},
		}})
		if i != 0 {
			big = append(big, dn)
		}
	}
	for i := range extra {
		big = append(big, fmt.Sprintf("CN=Outsider %d,OU=Elsewhere,DC=other,DC=test", i))
	}
	big = append(big, "CN=Small,OU=Groups,"+adBase)
	s.groups = []adEntry{
		{"CN=Big,OU=Groups," + adBase, map[string][]string{"objectGUID": {adGUID()}, "cn": {"Big"}, "member": big}},
		{"CN=Small,OU=Groups," + adBase, map[string][]string{"objectGUID": {adGUID()}, "cn": {"Small"},
			"member": {"cn=person 0,ou=staff," + strings.ToLower(adBase)}}},
		{"CN=Rat,OU=Groups," + adBase, map[string][]string{"objectGUID": {adGUID()}, "cn": {"Rat"},
			"member": {"CN=Small,OU=Groups," + adBase}}},
	}

	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	mux, _ := gldap.NewMux()
	mux.Bind(func(w *gldap.ResponseWriter, r *gldap.Request) {
		m, err := r.GetSimpleBindMessage()
		code := gldap.ResultInvalidCredentials
		if err == nil && m.UserName == "CN=sync,"+adBase && string(m.Password) == "pw" {
			code = gldap.ResultSuccess
		}
		w.Write(r.NewBindResponse(gldap.WithResponseCode(code)))
	})
	mux.Search(s.search)
	srv.Router(mux)

	// A proxy in front, so that a test can cut every connection.
	inner := freeAddr(t)
	go srv.Run(inner)
	for !srv.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.Map
	s.closeAll = func() {
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", inner)
			if err != nil {
				c.Close()
				continue
			}
			conns.Store(c, true)
			conns.Store(b, true)
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		close(s.hang)
		ln.Close()
		s.closeAll()
		srv.Stop()
	})
	s.URL = "ldap://" + ln.Addr().String()
	return s
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (s *adLimits) search(w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetSearchMessage()
	if err != nil {
		w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultOperationsError)))
		return
	}
	switch {
	case m.Scope == gldap.BaseObject:
		s.rangeFetch(w, r, m)
	case strings.Contains(m.Filter, "objectCategory=person"):
		s.page(w, r, m, s.people, true)
	case strings.Contains(m.Filter, "objectClass=group"):
		s.page(w, r, m, s.groups, false)
	default:
		w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
	}
}

// page serves one page of entries under the paged-results control, at
// most adMaxPage of them; the cookie is the offset.
func (s *adLimits) page(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage, all []adEntry, people bool) {
	size, offset, paged := adMaxPage, 0, false
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paged = true
			if p.PagingSize > 0 && int(p.PagingSize) < size {
				size = int(p.PagingSize)
			}
			offset, _ = strconv.Atoi(string(p.Cookie))
		}
	}
	if !strings.EqualFold(m.BaseDN, adBase) && !strings.HasSuffix(strings.ToLower(m.BaseDN), ","+strings.ToLower(adBase)) {
		w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultNoSuchObject)))
		return
	}
	end := min(offset+size, len(all))
	if people {
		s.mu.Lock()
		s.pages++
		s.maxPage = max(s.maxPage, end-offset)
		fault := ""
		if s.pages == 2 && !s.faulted {
			fault, s.faulted = s.fault, s.fault != ""
		}
		s.mu.Unlock()
		switch fault {
		case "error":
			w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultUnavailable), gldap.WithDiagnosticMessage("DC shutting down")))
			return
		case "close":
			s.closeAll()
			return
		case "hang":
			<-s.hang
			return
		case "sizelimit":
			for _, e := range all[offset : offset+10] {
				w.Write(s.entry(r, e, m.Attributes))
			}
			w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSizeLimitExceeded)))
			return
		}
	}
	for _, e := range all[offset:end] {
		w.Write(s.entry(r, e, m.Attributes))
	}
	if !paged && len(all) > adMaxPage {
		w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSizeLimitExceeded)))
		return
	}
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	if paged {
		ctl, _ := gldap.NewControlPaging(uint32(size))
		if end < len(all) {
			ctl.SetCookie([]byte(strconv.Itoa(end)))
		}
		done.SetControls(ctl)
	}
	w.Write(done)
}

// entry answers with the requested attributes; member beyond adMaxRange
// values only as member;range=0-1499.
func (s *adLimits) entry(r *gldap.Request, e adEntry, want []string) *gldap.SearchResponseEntry {
	out := r.NewSearchResponseEntry(e.dn)
	for _, a := range want {
		for name, vals := range e.attrs {
			if !strings.EqualFold(name, a) {
				continue
			}
			if strings.EqualFold(name, "member") && len(vals) > adMaxRange {
				out.AddAttribute(fmt.Sprintf("member;range=0-%d", adMaxRange-1), vals[:adMaxRange])
				continue
			}
			out.AddAttribute(name, vals)
		}
	}
	return out
}

// rangeFetch answers a base search for member;range=L-*.
func (s *adLimits) rangeFetch(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage) {
	for _, g := range s.groups {
		if !strings.EqualFold(g.dn, m.BaseDN) {
			continue
		}
		out := r.NewSearchResponseEntry(g.dn)
		for _, a := range m.Attributes {
			rest, ok := strings.CutPrefix(strings.ToLower(a), "member;range=")
			if !ok {
				continue
			}
			lowS, _, _ := strings.Cut(rest, "-")
			low, _ := strconv.Atoi(lowS)
			vals := g.attrs["member"]
			high := min(low+adMaxRange*2/3, len(vals)) // a DC may answer in smaller chunks
			name := fmt.Sprintf("member;range=%d-%d", low, high-1)
			if high == len(vals) {
				name = fmt.Sprintf("member;range=%d-*", low)
			}
			out.AddAttribute(name, vals[low:high])
			s.mu.Lock()
			s.ranges++
			s.mu.Unlock()
		}
		w.Write(out)
		w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
		return
	}
	w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultNoSuchObject)))
}

func adLimitsConfig(s *adLimits) ldapsync.Config {
	return ldapsync.Config{
		Name:              "ad",
		URL:               s.URL,
		InsecurePlaintext: true,
		BindDN:            "CN=sync," + adBase,
		BindPassword:      "pw",
		BaseDNs:           []string{adBase},
		Preset:            ldapsync.PresetActiveDirectory,
		PageSize:          1000,
		Timeout:           2 * time.Second,
		Groups: []ldapsync.GroupMapping{
			{DN: "CN=Big,OU=Groups," + adBase, Name: "big"},
			{DN: "cn=rat,ou=groups," + strings.ToLower(adBase), Name: "rat"},
		},
	}
}

func readAD(t *testing.T, cfg ldapsync.Config) (ldapsync.Snapshot, error) {
	t.Helper()
	d, err := ldapsync.NewDirectory(cfg, nil)
	if err != nil {
		t.Fatalf("NewDirectory: %v", err)
	}
	return d.Read(context.Background())
}

func TestReadADPagingAndRanges(t *testing.T) {
	s := startADLimits(t, 2500, 499) // Big: 2,499 people + 499 outsiders + Small = 2,999 values... and one more below
	s.groups[0].attrs["member"] = append(s.groups[0].attrs["member"], "CN=Outsider X,OU=Elsewhere,DC=other,DC=test")
	if n := len(s.groups[0].attrs["member"]); n != 3000 {
		t.Fatalf("Big has %d member values, want 3000", n)
	}
	snap, err := readAD(t, adLimitsConfig(s))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(snap.People) != 2500 {
		t.Fatalf("people = %d, want 2500", len(snap.People))
	}
	if s.pages != 3 || s.maxPage != 1000 {
		t.Errorf("people pages = %d (largest %d), want 3 of at most 1000", s.pages, s.maxPage)
	}
	if s.ranges != 2 {
		t.Errorf("range fetches = %d, want 2 (1500-2499, 2500-*)", s.ranges)
	}
	var all []string
	byName := map[string]ldapsync.Person{}
	for _, p := range snap.People {
		all = append(all, p.ExternalID)
		byName[p.Username] = p
	}
	slices.Sort(all)
	if len(snap.Groups) != 2 || snap.Groups[0].Name != "big" || snap.Groups[1].Name != "rat" {
		t.Fatalf("groups = %v", snap.Groups)
	}
	// Big: everybody (Person 0 through Small, in a different case), no
	// outsider.
	if !slices.Equal(snap.Groups[0].Members, all) {
		t.Errorf("big has %d members, want all %d people", len(snap.Groups[0].Members), len(all))
	}
	if got := snap.Groups[1].Members; len(got) != 1 || got[0] != byName["p0"].ExternalID {
		t.Errorf("rat = %v, want Person 0 through Small", got)
	}
	now := time.Now()
	if p := byName["p1"]; !p.Disabled || !p.Inactive(now) {
		t.Errorf("p1 (userAccountControl 514) = %+v, want disabled", p)
	}
	if p := byName["p2"]; p.Inactive(now) || !p.ExpiresAt.IsZero() {
		t.Errorf("p2 (accountExpires 0) = %+v, want never expires", p)
	}
	if p := byName["p3"]; !p.Inactive(now) || p.Disabled {
		t.Errorf("p3 (accountExpires 1970) = %+v, want expired", p)
	}
	if p := byName["p4"]; p.Inactive(now) || !p.ExpiresAt.IsZero() {
		t.Errorf("p4 (accountExpires 2^63-1) = %+v, want active", p)
	}
}

func TestReadADFaults(t *testing.T) {
	for _, fault := range []string{"error", "sizelimit", "close", "hang"} {
		t.Run(fault, func(t *testing.T) {
			s := startADLimits(t, 2500, 0)
			s.fault = fault
			cfg := adLimitsConfig(s)
			start := time.Now()
			snap, err := readAD(t, cfg)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("Read returned %d people and no error after the server's %q on page 2", len(snap.People), fault)
			}
			if snap.People != nil || snap.Groups != nil {
				t.Errorf("Read returned a partial snapshot with its error: %d people", len(snap.People))
			}
			if took > cfg.Timeout+2*time.Second {
				t.Errorf("Read took %v", took)
			}
			t.Logf("%v: %v", took.Round(time.Millisecond), err)
		})
	}
}
