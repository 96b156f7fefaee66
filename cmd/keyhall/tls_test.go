package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeSelfSigned writes a certificate for localhost and its key into dir.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)
	return certFile, keyFile
}

// TestServeTLS: with a certificate, Keyhall speaks only TLS and, with an
// https public URL, sends HSTS.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	p := startKeyhall(t, dir, []string{
		"KEYHALL_PUBLIC_URL=https://localhost:8443", "KEYHALL_TLS_CERT_FILE=" + cert, "KEYHALL_TLS_KEY_FILE=" + key,
	}, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed certificate
	}}
	resp, err := client.Get("https://" + p.addr + "/healthz")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("GET over TLS: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts == "" {
		t.Error("no HSTS header with an https public URL")
	}
	if code, _ := get(t, "http://"+p.addr+"/healthz", ""); code == 200 {
		t.Error("plain HTTP answered 200 on the TLS port")
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// TestServeTLSReload: renewed certificate files are taken up without a
// restart, on SIGHUP (here) or when the files are next looked at; files
// that do not load leave the previous certificate serving; and without TLS
// SIGHUP does not end the process.
func TestServeTLSReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	p := startKeyhall(t, dir, []string{
		"KEYHALL_PUBLIC_URL=https://localhost:8443", "KEYHALL_TLS_CERT_FILE=" + certFile, "KEYHALL_TLS_KEY_FILE=" + keyFile,
	}, "serve", "--listen", "127.0.0.1:0")
	p.listening(t)
	served := func() []byte {
		t.Helper()
		conn, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true}) // the test's own certificates
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	first := served()
	pemOf := func(f string) []byte { b, _ := os.ReadFile(f); return b }

	writeSelfSigned(t, dir) // renewed: another key, another certificate
	renewed := pemOf(certFile)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, `TLS certificate loaded again`, 10*time.Second)
	if now := served(); string(now) == string(first) {
		t.Fatal("still the old certificate after SIGHUP")
	}

	// A half-written renewal: the previous certificate stays.
	second := served()
	os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitFor(t, `do not load; still serving the previous certificate`, 10*time.Second)
	if now := served(); string(now) != string(second) {
		t.Error("a broken certificate file replaced the serving certificate")
	}
	os.WriteFile(certFile, renewed, 0o600)
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}

	plain := startKeyhall(t, t.TempDir(), nil, "serve", "--listen", "127.0.0.1:0")
	plain.listening(t)
	plain.cmd.Process.Signal(syscall.SIGHUP)
	plain.waitFor(t, `SIGHUP: nothing to load again`, 10*time.Second)
	if code, _ := get(t, plain.url("/healthz"), ""); code != 200 {
		t.Errorf("after SIGHUP without TLS: /healthz %d", code)
	}
	if code := plain.stop(t); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// TestCertFilesReload: the files are loaded again only when they changed;
// watch finds a renewal by itself, also one that swaps a symlink (as
// certbot's live/ directory does), and warns of the renewed certificate's
// near end.
func TestCertFilesReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	log := &lockedBuffer{}
	c, err := loadCertFiles(certFile, keyFile, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.reload(false) {
		t.Error("loaded again although the files did not change")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go c.watch(ctx, 5*time.Millisecond, nil)
	servingChanges := func(what string) {
		t.Helper()
		before, _ := c.GetCertificate(nil)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if now, _ := c.GetCertificate(nil); string(now.Certificate[0]) != string(before.Certificate[0]) {
				return
			}
		}
		t.Fatalf("%s not taken up; log:\n%s", what, log.String())
	}
	// Renewed in place.
	go func() { time.Sleep(20 * time.Millisecond); writeSelfSigned(t, dir) }()
	servingChanges("files renewed in place")
	// The warning follows the swap: wait for it, not for the swap.
	for deadline := time.Now().Add(5 * time.Second); strings.Count(log.String(), "expires soon") < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the renewed certificate, ending within the hour, was not warned of; log:\n%s", log.String())
			break
		}
	}
	// certbot: live/cert.pem is a symlink, renewed by pointing it elsewhere.
	archive := t.TempDir()
	c2, k2 := writeSelfSigned(t, archive)
	link := filepath.Join(dir, "live-cert.pem")
	if err := os.Symlink(c2, link); err != nil {
		t.Fatal(err)
	}
	cancel()
	lc, err := loadCertFiles(link, k2, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c = lc
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	go c.watch(ctx, 5*time.Millisecond, nil)
	next := t.TempDir()
	c3, k3 := writeSelfSigned(t, next)
	go func() {
		time.Sleep(20 * time.Millisecond)
		os.Rename(k3, k2) // the key first, then the certificate: half a pair for a moment
		tmp := link + ".new"
		os.Symlink(c3, tmp)
		os.Rename(tmp, link)
	}()
	servingChanges("a swapped symlink")
	if _, err := loadCertFiles(certFile, filepath.Join(dir, "missing.pem"), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("loadCertFiles with a missing key file succeeded")
	}
}
