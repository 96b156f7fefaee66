// Package ldaptest starts real directories for tests: OpenLDAP's slapd
// (slapd.go) and Samba as an Active Directory domain controller (samba.go),
// each on 127.0.0.1 from a temporary directory. Under CI=true a directory
// that is not installed fails the test; elsewhere the test is skipped.
package ldaptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The names slapd's fixture serves.
const (
	SlapdSuffix       = "dc=example,dc=org"
	SlapdRootDN       = "cn=admin,dc=example,dc=org"
	SlapdRootPassword = "root-secret"
	SlapdSyncDN       = "cn=sync,dc=example,dc=org" // unlimited size and time
	SlapdSyncPassword = "sync-secret"
	SlapdLimitedDN    = "cn=limited,dc=example,dc=org" // slapd's default size limit (500)
	SlapdPeopleDN     = "ou=people,dc=example,dc=org"
	SlapdGroupsDN     = "ou=groups,dc=example,dc=org"
	SlapdOutsideDN    = "ou=outside,dc=example,dc=org" // a branch tests keep outside the base DN
	SlapdPolicyDN     = "cn=default,ou=policies,dc=example,dc=org"
)

// SlapdOptions configure StartSlapd.
type SlapdOptions struct {
	// LDIF is loaded with slapadd before slapd starts (after the fixture's
	// own entries: the suffix, ou=people, ou=groups, ou=outside,
	// ou=policies with the default password policy, the sync and limited
	// accounts).
	LDIF string
	// LDIFFile is loaded the same way, after LDIF; for big loads
	// (slapadd -q takes about a second for 50,000 people).
	LDIFFile string
	// CertHosts are the names the server's certificate is made out for;
	// default 127.0.0.1 and localhost.
	CertHosts []string
	// ACL is slapd.conf access lines put before the fixture's last one
	// ("access to * by * read"), e.g. to take read rights away from the
	// sync account while slapd runs (by a group whose members may read).
	ACL string
}

// Slapd is a running slapd.
type Slapd struct {
	URL      string // ldap://127.0.0.1:port/ (StartTLS offered)
	LDAPSURL string // ldaps://127.0.0.1:port/
	CAFile   string // PEM of the CA that signed the server's certificate (SAN 127.0.0.1, localhost)
	Dir      string

	mu     sync.Mutex // guards cmd, paused and stderr
	cmd    *exec.Cmd
	paused bool
	stderr bytes.Buffer
	done   chan struct{} // closed when slapd exited
}

// slapdDirs are where slapd's programs are looked for when they are not on
// PATH (Debian puts them in /usr/sbin, often not on a user's PATH).
var slapdDirs = []string{"/usr/sbin"}

// slapdFind returns the path of one of slapd's programs.
func slapdFind(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range slapdDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in %s", name, strings.Join(slapdDirs, ", "))
}

// slapdMissing fails the test under CI=true and skips it elsewhere.
func slapdMissing(tb testing.TB, err error) {
	tb.Helper()
	msg := fmt.Sprintf("slapd is not installed (%v); install it with: apt-get install -y slapd ldap-utils", err)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// StartSlapd starts a slapd of its own for the test and stops it at the
// test's end. It serves SlapdSuffix on 127.0.0.1 with plain LDAP (with
// StartTLS) and LDAPS, mdb, dynlist (not the deprecated memberof overlay)
// and ppolicy; SlapdSyncDN may read without size or time limit.
func StartSlapd(tb testing.TB, opts SlapdOptions) *Slapd {
	tb.Helper()
	slapdBin, err := slapdFind("slapd")
	if err != nil {
		slapdMissing(tb, err)
		return nil
	}
	slapaddBin, err := slapdFind("slapadd")
	if err != nil {
		slapdMissing(tb, err)
		return nil
	}
	dir := tb.TempDir()
	s := &Slapd{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), done: make(chan struct{})}
	if err := WriteTestCertificates(dir, "ca.pem", "server.pem", "server.key", opts.CertHosts...); err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		tb.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	confText := strings.ReplaceAll(slapdConf, "DIR", dir)
	if opts.ACL != "" {
		confText = strings.Replace(confText, "access to * by * read\n", opts.ACL+"\naccess to * by * read\n", 1)
	}
	if err := os.WriteFile(conf, []byte(confText), 0o600); err != nil {
		tb.Fatal(err)
	}
	base := filepath.Join(dir, "base.ldif")
	if err := os.WriteFile(base, []byte(slapdBaseLDIF+"\n"+opts.LDIF), 0o600); err != nil {
		tb.Fatal(err)
	}
	for _, f := range []string{base, opts.LDIFFile} {
		if f == "" {
			continue
		}
		out, err := exec.Command(slapaddBin, "-q", "-f", conf, "-l", f).CombinedOutput()
		if err != nil {
			tb.Fatalf("slapadd %s: %v\n%s", f, err, out)
		}
	}

	// The ports are free when chosen, and another process can take one
	// before slapd binds it (CI runs packages side by side): then slapd
	// exits at once, silently, and it is started again on new ports.
	for attempt := 1; ; attempt++ {
		err := s.start(tb, slapdBin, conf)
		if err == nil {
			return s
		}
		if attempt == 3 || !errors.Is(err, errSlapdExited) {
			tb.Fatalf("%v", err)
		}
		tb.Logf("slapd attempt %d: %v; again on other ports", attempt, err)
	}
}

// errSlapdExited: slapd exited before it answered.
var errSlapdExited = errors.New("slapd exited at start")

// start starts slapd on two free ports with conf and waits until it
// answers; errSlapdExited (with its log) when it exits first.
func (s *Slapd) start(tb testing.TB, slapdBin, conf string) error {
	plain, ldaps := slapdFreePort(tb), slapdFreePort(tb)
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d/", plain)
	s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d/", ldaps)
	s.mu.Lock()
	s.stderr.Reset()
	s.mu.Unlock()
	s.mu.Lock()
	s.done = make(chan struct{})
	s.mu.Unlock()
	cmd := exec.Command(slapdBin, "-f", conf, "-h", s.URL+" "+s.LDAPSURL, "-d", "0")
	cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	cmd.Stdout = cmd.Stderr
	// slapd dies with the test binary, even when that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	done := s.done
	s.mu.Unlock()
	go func() { cmd.Wait(); close(done) }()
	tb.Cleanup(s.Stop)

	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			c.SetTimeout(time.Second)
			_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
			c.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%w: %s", errSlapdExited, s.log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slapd does not answer on %s after 15 s: %v\n%s", s.URL, err, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Slapd) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// Stop stops slapd (a paused one too) and waits for it to exit. Safe to
// call more than once.
func (s *Slapd) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Pause stops slapd with SIGSTOP: it keeps its port, takes connections
// (the kernel does) and answers nothing until Resume.
func (s *Slapd) Pause(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatalf("pause slapd: %v", err)
	}
	// The signal is delivered asynchronously: wait until every thread of
	// slapd is stopped, so that no request is answered after Pause.
	pid := s.cmd.Process.Pid
	for deadline := time.Now().Add(5 * time.Second); !allStopped(pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("pause slapd: not stopped after 5 s")
		}
	}
}

// allStopped reports whether every thread of process pid is stopped
// (state T in /proc/pid/task/*/stat).
func allStopped(pid int) bool {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		return false
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// pid (comm) state …: the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

// Resume continues a paused slapd.
func (s *Slapd) Resume(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Fatalf("resume slapd: %v", err)
	}
}

// TLSConfig trusts the fixture's CA.
func (s *Slapd) TLSConfig() *tls.Config {
	pemBytes, err := os.ReadFile(s.CAFile)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Root returns a connection bound as the root DN, closed at the test's end.
func (s *Slapd) Root(tb testing.TB) *ldap.Conn {
	tb.Helper()
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		tb.Fatalf("dial slapd: %v", err)
	}
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(SlapdRootDN, SlapdRootPassword); err != nil {
		c.Close()
		tb.Fatalf("bind as root: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// Add adds an entry as root.
func (s *Slapd) Add(tb testing.TB, dn string, attrs map[string][]string) {
	tb.Helper()
	req := ldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		req.Attribute(k, v)
	}
	if err := s.Root(tb).Add(req); err != nil {
		tb.Fatalf("add %s: %v", dn, err)
	}
}

// Modify replaces attributes of an entry as root; an empty value list
// deletes the attribute.
func (s *Slapd) Modify(tb testing.TB, dn string, replace map[string][]string) {
	tb.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	for k, v := range replace {
		req.Replace(k, v)
	}
	if err := s.Root(tb).Modify(req); err != nil {
		tb.Fatalf("modify %s: %v", dn, err)
	}
}

// Delete deletes an entry as root.
func (s *Slapd) Delete(tb testing.TB, dn string) {
	tb.Helper()
	if err := s.Root(tb).Del(ldap.NewDelRequest(dn, nil)); err != nil {
		tb.Fatalf("delete %s: %v", dn, err)
	}
}

// AddLDIF adds the entries of an LDIF text as root with ldapadd (small
// loads while slapd runs; big ones go in SlapdOptions before start).
func (s *Slapd) AddLDIF(tb testing.TB, ldif string) {
	tb.Helper()
	cmd := exec.Command("ldapadd", "-x", "-H", s.URL, "-D", SlapdRootDN, "-w", SlapdRootPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ldapadd: %v\n%s", err, out)
	}
}

// EntryUUID returns an entry's entryUUID.
func (s *Slapd) EntryUUID(tb testing.TB, dn string) string {
	tb.Helper()
	res, err := s.Root(tb).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil || len(res.Entries) != 1 {
		tb.Fatalf("read entryUUID of %s: %v", dn, err)
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// slapdFreePort returns a TCP port free on 127.0.0.1 right now.
func slapdFreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WriteTestCertificates writes into dir a new CA (caName) and a server
// certificate it signed (certName, keyName; PEM) for hosts (IP addresses
// and DNS names; default 127.0.0.1 and localhost), valid for a day.
func WriteTestCertificates(dir, caName, certName, keyName string, hosts ...string) error {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	var ips []net.IP
	var names []string
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, h)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Keyhall test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  ips,
		DNSNames:     names,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	write := func(name, typ string, b []byte) error {
		return os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600)
	}
	return errors.Join(
		write(caName, "CERTIFICATE", caDER),
		write(certName, "CERTIFICATE", der),
		write(keyName, "PRIVATE KEY", keyDER),
	)
}

const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/dyngroup.schema
pidfile DIR/slapd.pid
argsfile DIR/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload dynlist
moduleload ppolicy
TLSCACertificateFile DIR/ca.pem
TLSCertificateFile DIR/server.pem
TLSCertificateKeyFile DIR/server.key
sizelimit 500

database mdb
maxsize 1073741824
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw root-secret
directory DIR/data
index objectClass,uid,cn,mail,member,uniqueMember,entryUUID eq
limits dn.exact="cn=sync,dc=example,dc=org" size=unlimited time=unlimited
overlay dynlist
dynlist-attrset groupOfURLs memberURL member+memberOf@groupOfNames*
overlay ppolicy
ppolicy_default "cn=default,ou=policies,dc=example,dc=org"
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
`

const slapdBaseLDIF = `dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: ou=outside,dc=example,dc=org
objectClass: organizationalUnit
ou: outside

dn: ou=policies,dc=example,dc=org
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,dc=example,dc=org
objectClass: organizationalRole
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMaxFailure: 5
pwdLockout: TRUE
pwdLockoutDuration: 300
pwdFailureCountInterval: 300

dn: cn=sync,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: sync
userPassword: sync-secret

dn: cn=limited,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: limited
userPassword: sync-secret
`
