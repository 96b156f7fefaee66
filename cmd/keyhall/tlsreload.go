package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// certCheckInterval is how often the certificate files are looked at for
// a renewal; SIGHUP looks at once.
const certCheckInterval = time.Minute

// certExpiryWarning is how long before its end a certificate is warned of.
const certExpiryWarning = 14 * 24 * time.Hour

// certFiles is the server's certificate from tls.cert_file and
// tls.key_file, taken up again when the files change (a renewal by
// certbot, an ACME client or the city's own CA) without a restart and
// without dropping a connection: every new handshake gets the certificate
// loaded last. A pair that does not load (half written, key and
// certificate not matching) is logged and the previous one kept.
type certFiles struct {
	certFile, keyFile string
	log               *slog.Logger
	cert              atomic.Pointer[tls.Certificate]

	mu    sync.Mutex // guards stamp, one reload at a time
	stamp string     // the files' size and modification time last looked at
}

// loadCertFiles loads the pair; the server does not start without one.
func loadCertFiles(certFile, keyFile string, log *slog.Logger) (*certFiles, error) {
	c := &certFiles{certFile: certFile, keyFile: keyFile, log: log}
	c.stamp = c.fileStamp()
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c.cert.Store(cert)
	c.warnExpiry(cert, time.Now())
	return c, nil
}

// loadPair loads a certificate and its key, with the leaf parsed.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls.cert_file and tls.key_file: %w", err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("load tls.cert_file: %w", err)
		}
	}
	return &cert, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *certFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// fileStamp names the files' present state (through symlinks): size,
// modification time and, where the system has them, inode numbers, since
// a renewal that points a symlink at another file (certbot) may bring one
// of the same size and, to the file system's clock, the same time. "" when
// a file cannot be read.
func (c *certFiles) fileStamp() string {
	s := ""
	for _, f := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return ""
		}
		s += fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			s += fmt.Sprintf("/%d/%d", st.Dev, st.Ino)
		}
		s += ";"
	}
	return s
}

// reload loads the pair again when the files changed since last looked
// at, or always when force is set (SIGHUP). It reports whether a new
// certificate is in use.
func (c *certFiles) reload(force bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp := c.fileStamp()
	if !force && stamp == c.stamp {
		return false
	}
	c.stamp = stamp // a pair that fails is tried again when the files change again
	cert, err := loadPair(c.certFile, c.keyFile)
	if err != nil {
		c.log.Error("TLS certificate files changed but do not load; still serving the previous certificate",
			"err", err, "not_after", c.cert.Load().Leaf.NotAfter)
		return false
	}
	c.cert.Store(cert)
	c.log.Info("TLS certificate loaded again", "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
	c.warnExpiry(cert, time.Now())
	return true
}

// warnExpiry logs a warning when cert ends within certExpiryWarning, or
// an error when it has ended.
func (c *certFiles) warnExpiry(cert *tls.Certificate, now time.Time) {
	switch left := cert.Leaf.NotAfter.Sub(now); {
	case left <= 0:
		c.log.Error("the TLS certificate has expired; browsers refuse it: renew it (the files are looked at every minute, or send SIGHUP)",
			"not_after", cert.Leaf.NotAfter)
	case left < certExpiryWarning:
		c.log.Warn("the TLS certificate expires soon: renew it (the files are looked at every minute, or send SIGHUP)",
			"not_after", cert.Leaf.NotAfter, "days_left", int(left.Hours()/24))
	}
}

// watch reloads the pair when the files change (looked at every interval)
// and on every signal from hup (SIGHUP), until ctx ends. It also repeats
// the expiry warning daily.
func (c *certFiles) watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastWarned := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			c.log.Info("SIGHUP: loading the TLS certificate files again")
			c.reload(true)
		case now := <-tick.C:
			if !c.reload(false) && now.Sub(lastWarned) >= 24*time.Hour {
				c.warnExpiry(c.cert.Load(), now)
				lastWarned = now
			}
		}
	}
}
