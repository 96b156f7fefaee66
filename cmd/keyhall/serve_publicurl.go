package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// publicURLWarning returns a warning when public_url names this machine
// (localhost or a loopback address) but not the address the server listens
// on, so that the links it prints and mails (the first administrator's
// enrollment link among them) would not reach it — as with
// "serve --listen 127.0.0.1:9000" and the default public_url
// http://localhost:8080. It names both and the setting to change; "" when
// they agree, when public_url names another host (a reverse proxy in
// front), or when the port is chosen at start (port 0).
func publicURLWarning(publicURL *url.URL, listen string) string {
	if !loopbackHost(publicURL.Hostname()) {
		return ""
	}
	lhost, lport, err := net.SplitHostPort(listen)
	if err != nil || lport == "0" {
		return ""
	}
	pport := publicURL.Port()
	if pport == "" {
		pport = map[string]string{"http": "80", "https": "443"}[publicURL.Scheme]
	}
	reachable := lhost == "" || loopbackHost(lhost) || unspecified(lhost)
	if pport == lport && reachable {
		return ""
	}
	want := *publicURL
	want.Host = net.JoinHostPort(publicURL.Hostname(), lport)
	if !reachable {
		want.Host = net.JoinHostPort(lhost, lport)
	}
	return fmt.Sprintf("public_url is %s, but the server listens on %s (listen, --listen): the links it prints and mails, "+
		"such as the enrollment link, will not reach it; set public_url (KEYHALL_PUBLIC_URL) to %s, or listen on the port public_url names",
		publicURL.Redacted(), listen, strings.TrimSuffix(want.String(), "/"))
}

// loopbackHost reports whether host names this machine: localhost, a name
// under .localhost (RFC 6761 §6.3), or a loopback address.
func loopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

func unspecified(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}
