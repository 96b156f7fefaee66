// Samba as an Active Directory domain controller, for tests.
//
// StartSamba provisions one domain per test binary (about 5–8 s) in a
// temporary directory and runs `samba -i -M single` with only the ldap,
// cldap and kdc services, with a certificate of its own for
// IP:<its address>,DNS:localhost. Samba's ports (389, 636, 3268, 3269, 88,
// 464) cannot be moved, so each instance gets an address of its own on the
// loopback net, 127.0.0.60–127.0.0.249 (interfaces=<ip>/8, bind interfaces
// only), reserved with a lock file /tmp/keyhall-samba-<ip>.lock held while
// it runs: test binaries running at once get different addresses.
//
// The samba process is killed when the test binary ends, also when it
// crashes (PR_SET_PDEATHSIG), and the next StartSamba removes the directory
// such a binary left; a package that uses StartSamba should still stop it
// in TestMain, which also removes its directory:
//
//	func TestMain(m *testing.M) {
//		defer ldaptest.StopSamba()
//		m.Run()
//	}
//
// If samba is not installed a test is skipped, or fails when the
// environment variable CI is "true" (install: apt-get install -y
// --no-install-recommends samba samba-ad-dc samba-ad-provision winbind
// krb5-user ldb-tools).

package ldaptest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// Samba is a running Samba AD domain controller.
type Samba struct {
	Dir           string // its temporary directory (etc/smb.conf, private/sam.ldb, log/)
	Addr          string // its IP address, 127.0.0.N
	URL           string // ldaps://127.0.0.N:636
	CAFile        string // PEM of the CA that issued its certificate
	CAPEM         []byte
	Realm         string // KEYHALL.TEST
	Domain        string // KEYHALL (NetBIOS)
	BaseDN        string // DC=keyhall,DC=test
	UsersDN       string // CN=Users,DC=keyhall,DC=test
	AdminDN       string // CN=Administrator,CN=Users,DC=keyhall,DC=test
	AdminPassword string

	cmd    *exec.Cmd
	exited chan struct{} // closed when samba has exited
	lock   *os.File      // the address's lock file, held while it runs

	mu     sync.Mutex // guards admin
	admin  *ldap.Conn
	roots  *x509.CertPool
	paused bool
}

// SambaAdminPassword is the Administrator's password of every test domain.
const SambaAdminPassword = "Adm1n!Passw0rd"

var errSambaNotInstalled = errors.New("samba is not installed; install it with: apt-get install -y --no-install-recommends samba samba-ad-dc samba-ad-provision winbind krb5-user ldb-tools")

var sharedSamba struct {
	mu  sync.Mutex
	srv *Samba
	err error
}

// StartSamba returns the test binary's Samba AD DC, provisioned and started
// on first use. TestMain should call StopSamba after m.Run.
func StartSamba(tb testing.TB) *Samba {
	tb.Helper()
	sharedSamba.mu.Lock()
	defer sharedSamba.mu.Unlock()
	if sharedSamba.srv == nil && sharedSamba.err == nil {
		sharedSamba.srv, sharedSamba.err = startSamba()
	}
	if err := sharedSamba.err; err != nil {
		if errors.Is(err, errSambaNotInstalled) && os.Getenv("CI") != "true" {
			tb.Skip(err)
		}
		tb.Fatal(err)
	}
	return sharedSamba.srv
}

// StopSamba stops the test binary's Samba, if one was started, and removes
// its directory.
func StopSamba() {
	sharedSamba.mu.Lock()
	defer sharedSamba.mu.Unlock()
	if sharedSamba.srv != nil {
		sharedSamba.srv.stop()
		sharedSamba.srv = nil
	}
}

func startSamba() (*Samba, error) {
	sambaBin, err1 := exec.LookPath("samba")
	tool, err2 := exec.LookPath("samba-tool")
	if err1 != nil || err2 != nil {
		return nil, errSambaNotInstalled
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		return nil, errSambaNotInstalled
	}
	s := &Samba{
		Realm: "KEYHALL.TEST", Domain: "KEYHALL", BaseDN: "DC=keyhall,DC=test",
		AdminPassword: SambaAdminPassword, exited: make(chan struct{}),
	}
	var err error
	s.UsersDN = "CN=Users," + s.BaseDN
	s.AdminDN = "CN=Administrator," + s.UsersDN
	if s.Addr, s.lock, err = sambaReserveAddr(); err != nil {
		return nil, err
	}
	s.URL = "ldaps://" + s.Addr + ":636"
	sambaRemoveStale()
	if s.Dir, err = os.MkdirTemp("", "keyhall-samba-"); err != nil {
		s.lock.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		s.stop()
		return nil, err
	}
	fail := func(err error) (*Samba, error) {
		s.stop()
		return nil, err
	}
	if s.CAPEM, err = sambaCerts(s.Dir, net.ParseIP(s.Addr)); err != nil {
		return fail(fmt.Errorf("samba certificates: %w", err))
	}
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	s.roots = x509.NewCertPool()
	s.roots.AppendCertsFromPEM(s.CAPEM)
	for _, d := range []string{"run", "log"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return fail(err)
		}
	}
	prov := exec.Command("/usr/bin/python3", tool, "domain", "provision", "--targetdir="+s.Dir,
		"--realm="+s.Realm, "--domain="+s.Domain, "--server-role=dc", "--dns-backend=NONE", "--use-rfc2307",
		"--adminpass="+s.AdminPassword, "--option=interfaces="+s.Addr+"/8", "--option=bind interfaces only=yes")
	prov.Dir = s.Dir
	if out, err := prov.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("samba-tool domain provision: %v\n%s", err, sambaTail(out)))
	}
	f := func(name string) string { return filepath.Join(s.Dir, name) }
	s.cmd = exec.Command(sambaBin, "-s", f("etc/smb.conf"), "-i", "--no-process-group", "-M", "single",
		"--option=pid directory="+f("run"), "--option=server services=ldap cldap kdc",
		"--option=tls keyfile="+f("key.pem"), "--option=tls certfile="+f("cert.pem"),
		"--option=tls cafile="+f("ca.pem"), "--option=log file="+f("log/samba.log"),
		"--option=log level=1 auth_audit:3")
	// With -i samba logs to its standard output: into log/samba.out.
	out, err := os.Create(f("log/samba.out"))
	if err != nil {
		return fail(err)
	}
	defer out.Close() // samba has its own copy
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// Killed with the test binary: PR_SET_PDEATHSIG fires when the thread
	// that started it ends, so it is started from a thread of its own that
	// ends only after samba has.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		s.cmd = nil
		return fail(fmt.Errorf("start samba: %w", err))
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		conn, err := s.dialAdmin()
		if err == nil {
			s.admin = conn
			return s, nil
		}
		select {
		case <-s.exited:
			return fail(fmt.Errorf("samba exited:\n%s", s.logTail()))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("samba does not answer on %s: %v\n%s", s.URL, err, s.logTail()))
		}
	}
}

// sambaRemoveStale removes the directories of test binaries that were
// killed before they could (their samba died with them).
func sambaRemoveStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "keyhall-samba-*", "owner.pid"))
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		pid, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || pid <= 0 {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(filepath.Dir(f))
		}
	}
}

// sambaReserveAddr finds a loopback address whose Samba ports are free and
// locks it for this process.
func sambaReserveAddr() (string, *os.File, error) {
	for n := 60; n < 250; n++ {
		ip := "127.0.0." + strconv.Itoa(n)
		lf, err := os.OpenFile(filepath.Join(os.TempDir(), "keyhall-samba-"+ip+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return "", nil, err
		}
		if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lf.Close()
			continue
		}
		free := true
		for _, port := range []string{"389", "636", "3268", "3269", "88", "464"} {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, port))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return ip, lf, nil
		}
		lf.Close()
	}
	return "", nil, errors.New("no free loopback address for samba in 127.0.0.60–249")
}

func (s *Samba) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		if s.paused {
			s.cmd.Process.Signal(syscall.SIGCONT)
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
	if s.lock != nil {
		s.lock.Close()
	}
}

// TLSConfig trusts the test CA, for clients of s.
func (s *Samba) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

// Dial connects to s over LDAPS, not bound.
func (s *Samba) Dial() (*ldap.Conn, error) {
	return ldap.DialURL(s.URL, ldap.DialWithTLSConfig(s.TLSConfig()),
		ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
}

func (s *Samba) dialAdmin() (*ldap.Conn, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, err
	}
	c.SetTimeout(30 * time.Second)
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Admin runs f on a connection bound as Administrator (one at a time),
// dialled again if the last one broke.
func (s *Samba) Admin(tb testing.TB, f func(*ldap.Conn) error) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil || s.admin.IsClosing() {
		c, err := s.dialAdmin()
		if err != nil {
			tb.Fatalf("samba: bind as Administrator: %v", err)
		}
		s.admin = c
	}
	if err := f(s.admin); err != nil {
		tb.Fatalf("samba: %v", err)
	}
}

// SambaUser is a person created in the test domain.
type SambaUser struct {
	Name string // sAMAccountName
	DN   string
	GUID string // objectGUID in its canonical string form
}

// CreateUser creates an enabled person name (sAMAccountName, CN and
// userPrincipalName name@keyhall.test) in CN=Users with password and any
// further attributes (e.g. displayName, mail).
func (s *Samba) CreateUser(tb testing.TB, name, password string, attrs ...ldap.Attribute) SambaUser {
	tb.Helper()
	return s.CreateUserIn(tb, s.UsersDN, name, password, attrs...)
}

// CreateUserIn is CreateUser under the container or OU parentDN.
func (s *Samba) CreateUserIn(tb testing.TB, parentDN, name, password string, attrs ...ldap.Attribute) SambaUser {
	tb.Helper()
	u := SambaUser{Name: name, DN: "CN=" + ldap.EscapeDN(name) + "," + parentDN}
	add := ldap.NewAddRequest(u.DN, nil)
	add.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	add.Attribute("sAMAccountName", []string{name})
	add.Attribute("userPrincipalName", []string{name + "@" + strings.ToLower(s.Realm)})
	add.Attribute("unicodePwd", []string{adPassword(password)})
	add.Attribute("userAccountControl", []string{"512"}) // a normal account, enabled
	for _, a := range attrs {
		add.Attribute(a.Type, a.Vals)
	}
	s.Admin(tb, func(c *ldap.Conn) error {
		if err := c.Add(add); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		return nil
	})
	u.GUID = s.GUID(tb, u.DN)
	return u
}

// adPassword encodes a password for unicodePwd: in quotes, UTF-16LE.
func adPassword(pw string) string {
	var b bytes.Buffer
	for _, r := range utf16.Encode([]rune(`"` + pw + `"`)) {
		binary.Write(&b, binary.LittleEndian, r)
	}
	return b.String()
}

// GUID returns the objectGUID of dn in its canonical string form.
func (s *Samba) GUID(tb testing.TB, dn string) string {
	tb.Helper()
	raw := s.Attr(tb, dn, "objectGUID")
	if len(raw) != 16 {
		tb.Fatalf("samba: objectGUID of %s has %d bytes", dn, len(raw))
	}
	b := []byte(raw)
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

// Attr reads one attribute of dn ("" when it has none).
func (s *Samba) Attr(tb testing.TB, dn, attr string) string {
	tb.Helper()
	var v string
	s.Admin(tb, func(c *ldap.Conn) error {
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 30, false,
			"(objectClass=*)", []string{attr}, nil))
		if err != nil {
			return fmt.Errorf("read %s of %s: %w", attr, dn, err)
		}
		if len(res.Entries) == 1 {
			v = res.Entries[0].GetAttributeValue(attr)
		}
		return nil
	})
	return v
}

// BadPwdCount returns dn's badPwdCount.
func (s *Samba) BadPwdCount(tb testing.TB, dn string) int {
	tb.Helper()
	n, _ := strconv.Atoi(s.Attr(tb, dn, "badPwdCount"))
	return n
}

// Modify replaces attributes of dn.
func (s *Samba) Modify(tb testing.TB, dn string, replace map[string][]string) {
	tb.Helper()
	m := ldap.NewModifyRequest(dn, nil)
	for k, v := range replace {
		m.Replace(k, v)
	}
	s.Admin(tb, func(c *ldap.Conn) error {
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("modify %s: %w", dn, err)
		}
		return nil
	})
}

// Disable sets the disabled bit (0x2) of userAccountControl.
func (s *Samba) Disable(tb testing.TB, dn string) {
	tb.Helper()
	s.Modify(tb, dn, map[string][]string{"userAccountControl": {"514"}})
}

// Enable clears it again.
func (s *Samba) Enable(tb testing.TB, dn string) {
	tb.Helper()
	s.Modify(tb, dn, map[string][]string{"userAccountControl": {"512"}})
}

// SetExpiry sets accountExpires to at; the zero time means never (2^63−1,
// as for a new user).
func (s *Samba) SetExpiry(tb testing.TB, dn string, at time.Time) {
	tb.Helper()
	v := "9223372036854775807"
	if !at.IsZero() {
		// FILETIME: 100 ns since 1601-01-01.
		v = strconv.FormatInt(at.Unix()*10_000_000+int64(at.Nanosecond()/100)+116444736000000000, 10)
	}
	s.Modify(tb, dn, map[string][]string{"accountExpires": {v}})
}

// MustChangePassword makes dn change her password at the next sign-in
// (pwdLastSet 0); mustChange false undoes it.
func (s *Samba) MustChangePassword(tb testing.TB, dn string, mustChange bool) {
	tb.Helper()
	v := "-1"
	if mustChange {
		v = "0"
	}
	s.Modify(tb, dn, map[string][]string{"pwdLastSet": {v}})
}

// Unlock ends a lockout of dn (lockoutTime 0, which also clears badPwdCount).
func (s *Samba) Unlock(tb testing.TB, dn string) {
	tb.Helper()
	s.Modify(tb, dn, map[string][]string{"lockoutTime": {"0"}})
}

// Move moves dn under newParentDN and returns its new DN.
func (s *Samba) Move(tb testing.TB, dn, newParentDN string) string {
	tb.Helper()
	rdn, _, _ := strings.Cut(dn, ",")
	s.Admin(tb, func(c *ldap.Conn) error {
		if err := c.ModifyDN(ldap.NewModifyDNRequest(dn, rdn, true, newParentDN)); err != nil {
			return fmt.Errorf("move %s: %w", dn, err)
		}
		return nil
	})
	return rdn + "," + newParentDN
}

// Delete deletes dn.
func (s *Samba) Delete(tb testing.TB, dn string) {
	tb.Helper()
	s.Admin(tb, func(c *ldap.Conn) error {
		if err := c.Del(ldap.NewDelRequest(dn, nil)); err != nil {
			return fmt.Errorf("delete %s: %w", dn, err)
		}
		return nil
	})
}

// CreateOU creates an organizational unit name under parentDN and returns
// its DN.
func (s *Samba) CreateOU(tb testing.TB, parentDN, name string) string {
	tb.Helper()
	dn := "OU=" + ldap.EscapeDN(name) + "," + parentDN
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "organizationalUnit"})
	s.Admin(tb, func(c *ldap.Conn) error {
		if err := c.Add(add); err != nil {
			return fmt.Errorf("create OU %s: %w", dn, err)
		}
		return nil
	})
	return dn
}

// GroupAdd creates a global security group name under parentDN ("" =
// CN=Users) and returns its DN and objectGUID.
func (s *Samba) GroupAdd(tb testing.TB, parentDN, name string) SambaUser {
	tb.Helper()
	if parentDN == "" {
		parentDN = s.UsersDN
	}
	g := SambaUser{Name: name, DN: "CN=" + ldap.EscapeDN(name) + "," + parentDN}
	add := ldap.NewAddRequest(g.DN, nil)
	add.Attribute("objectClass", []string{"top", "group"})
	add.Attribute("sAMAccountName", []string{name})
	add.Attribute("groupType", []string{"-2147483646"}) // global, security
	s.Admin(tb, func(c *ldap.Conn) error {
		if err := c.Add(add); err != nil {
			return fmt.Errorf("create group %s: %w", name, err)
		}
		return nil
	})
	g.GUID = s.GUID(tb, g.DN)
	return g
}

// AddMembers adds members (DNs of people or groups) to groupDN.
func (s *Samba) AddMembers(tb testing.TB, groupDN string, members ...string) {
	tb.Helper()
	s.members(tb, groupDN, true, members)
}

// RemoveMembers removes members from groupDN.
func (s *Samba) RemoveMembers(tb testing.TB, groupDN string, members ...string) {
	tb.Helper()
	s.members(tb, groupDN, false, members)
}

func (s *Samba) members(tb testing.TB, groupDN string, add bool, members []string) {
	tb.Helper()
	m := ldap.NewModifyRequest(groupDN, nil)
	if add {
		m.Add("member", members)
	} else {
		m.Delete("member", members)
	}
	s.Admin(tb, func(c *ldap.Conn) error {
		if err := c.Modify(m); err != nil {
			return fmt.Errorf("members of %s: %w", groupDN, err)
		}
		return nil
	})
}

// Tool runs samba-tool with args against s, as its administrator does
// (e.g. "user", "disable", name), and returns its output; it fails the
// test if samba-tool fails. Each run takes about a second (Python).
func (s *Samba) Tool(tb testing.TB, args ...string) string {
	tb.Helper()
	args = append(args, "-s", filepath.Join(s.Dir, "etc", "smb.conf"), "-H", "ldap://"+s.Addr,
		"-U", s.Domain+`\Administrator%`+s.AdminPassword)
	out, err := exec.Command("/usr/bin/python3", append([]string{sambaToolPath()}, args...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("samba-tool %s: %v\n%s", strings.Join(args[:len(args)-6], " "), err, sambaTail(out))
	}
	return string(out)
}

func sambaToolPath() string {
	if p, err := exec.LookPath("samba-tool"); err == nil {
		return p
	}
	return "samba-tool"
}

// SetLockoutThreshold sets the domain's account lockout threshold (0 =
// never locked), with a 30-minute lockout and observation window.
func (s *Samba) SetLockoutThreshold(tb testing.TB, n int) {
	tb.Helper()
	const halfHour = "-18000000000" // −30 min in 100 ns
	s.Modify(tb, s.BaseDN, map[string][]string{
		"lockoutThreshold":         {strconv.Itoa(n)},
		"lockoutDuration":          {halfHour},
		"lockOutObservationWindow": {halfHour},
	})
}

// Pause stops samba (SIGSTOP) as a hung directory does: connections are
// accepted by the kernel and never answered. It resumes at tb's cleanup,
// or when resume is called. Tests that pause must not run in parallel with
// others that use samba.
func (s *Samba) Pause(tb testing.TB) (resume func()) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !allStopped(s.cmd.Process.Pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("pause samba: not stopped after 5 s")
		}
	}
	s.paused = true
	var once sync.Once
	resume = func() {
		once.Do(func() {
			s.cmd.Process.Signal(syscall.SIGCONT)
			s.paused = false
		})
	}
	tb.Cleanup(resume)
	return resume
}

// Binds returns how many simple binds as dn samba has answered (right or
// wrong; anonymous ones are not counted), from its authentication log.
func (s *Samba) Binds(tb testing.TB, dn string) int {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, "log", "samba.out"))
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Auth: [LDAP,simple bind") && strings.Contains(line, `\[`+dn+`] at [`) {
			n++
		}
	}
	return n
}

// sambaTail is the last 2 KB of out.
func sambaTail(out []byte) string {
	if len(out) > 2048 {
		out = out[len(out)-2048:]
	}
	return string(out)
}

func (s *Samba) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "log", "samba.out"))
	return sambaTail(b)
}

// Harden removes Authenticated Users from "Pre-Windows 2000 Compatible
// Access", as PingCastle and ANSSI advise: an ordinary user (a service
// account without delegated rights) can then no longer read other
// people's userAccountControl, accountExpires or lockoutTime. The domain
// is shared by the test binary: it is undone when tb ends.
func (s *Samba) Harden(tb testing.TB) {
	tb.Helper()
	pre := "CN=Pre-Windows 2000 Compatible Access,CN=Builtin," + s.BaseDN
	au := "CN=S-1-5-11,CN=ForeignSecurityPrincipals," + s.BaseDN
	s.Admin(tb, func(c *ldap.Conn) error {
		m := ldap.NewModifyRequest(pre, nil)
		m.Delete("member", []string{au})
		if err := c.Modify(m); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
			return fmt.Errorf("harden: %w", err)
		}
		return nil
	})
	tb.Cleanup(func() {
		s.Admin(tb, func(c *ldap.Conn) error {
			m := ldap.NewModifyRequest(pre, nil)
			m.Add("member", []string{au})
			if err := c.Modify(m); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) {
				return fmt.Errorf("undo harden: %w", err)
			}
			return nil
		})
	})
}
