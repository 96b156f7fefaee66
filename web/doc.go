// Package web is Keyhall's HTTP side: it translates requests into calls on
// the domain packages and their answers back into pages and JSON. It decides
// nothing about who may sign in; that is package authn's.
//
// # Request flow
//
// Every request passes, outermost first, through: panic recovery; the
// security headers an auditor checks (Content-Security-Policy with
// frame-ancestors 'none', nosniff, COOP, no-referrer, HSTS for an https
// public URL); the client address (X-Forwarded-For is believed only from
// the configured trusted proxies); cross-origin protection for
// state-changing requests (http.CrossOriginProtection); and finally the
// route, registered in routes.go, where each route records its own metrics
// and one log line.
//
// # The store may be missing
//
// The server starts before its database is reachable and keeps running when
// the database goes away: /healthz stays 200 (the process is up), /readyz
// answers 503, and every request that needs the database gets 503 with a
// message a person can act on — never a signed-in answer. The store is set
// with SetStore once it opens; database/sql reconnects by itself after that.
//
// # public_url
//
// Config.PublicURL is the only source of absolute links, the cookies' Secure
// flag and (later) the OIDC issuer and WebAuthn origin. Nothing is built from
// the request's Host or X-Forwarded-Host.
package web
