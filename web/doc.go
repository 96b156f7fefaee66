// Package web is Keyhall's HTTP side: it translates requests into calls on
// the domain packages and their answers back into pages and JSON. It decides
// nothing about who may sign in; that is package authn's.
//
// # Request flow
//
// Every request passes, outermost first, through: panic recovery; the
// security headers an auditor checks (Content-Security-Policy with
// frame-ancestors 'none', nosniff, COOP, no-referrer, HSTS for an https
// public URL); cross-origin protection for state-changing requests
// (http.CrossOriginProtection); and finally the route, registered in
// routes.go, where each route records its own metrics and one log line.
// The client address is worked out only when a log line, an audit event or
// the throttle asks for it (Server.clientAddr: X-Forwarded-For is believed
// only from the configured trusted proxies).
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
//
// # The city's own name
//
// Config.Site (site.go) puts the city's name in every page's header and
// title, its logo (a PNG, or an SVG without script, served with a CSP of
// its own) before it, and its colour in a stylesheet generated at start
// and served like the embedded ones (/static/site.css?v=hash): no inline
// style, the pages' CSP unchanged. New refuses a colour under 4.5:1
// against white. The enrollment's app entry (enroll.Config.Issuer) is
// named after the site, as the code page says.
//
// # Signing in
//
// The pages (templates/, German first, English by Accept-Language or the
// switch's lang cookie) and the script static/webauthn.js are embedded in
// the binary; no page carries inline script or style. authn.SignIn decides
// every step; web only carries it:
//
//	GET  /login                 username, or "Mit Sicherheitsschlüssel anmelden" (passkey, no username)
//	POST /login                 SignIn.Start → the person's strongest factor
//	GET  /login/{key,totp,recovery,password}   the page of the pending step (SignIn.Restart)
//	POST /login/switch          another possession factor, one click away (SignIn.SwitchTo)
//	POST /login/key/begin, /login/passkey/begin   WebAuthn options (JSON; the key's opened by POST /login)
//	POST /login/key/finish, /login/passkey/finish assertion (JSON) → {"next": …}
//	POST /login/{totp,recovery,password}       the code or password
//
// A sign-in in progress lives in the browser, sealed (authn), in the
// __Host-keyhall-login cookie; the store marks each one used when a step
// acts on it, and the step hands out a new one. When the last factor succeeds, authn has
// stored the session and web writes its id into __Host-keyhall through a
// gorilla/sessions Store (sessionstore.go) whose cookie holds only the id.
// Both cookies are Secure, HttpOnly, SameSite=Lax, Path=/ without Domain.
// A refused step shows its page again with a message that says what to do
// next (401; 429 with Retry-After when throttled; 403 for policy); an
// expired one starts over at /login; a storage error is a 503. GET / leads
// to /account, and from there to sign-in. A person whose session an IT
// reset ended reads so on /login (login_reset.go); a refused key, or one
// that does not answer, is told that an old key no longer registered will
// not work by pressing again, with the IT service's phone and e-mail
// (enroll.Notices.Sender). The address
// to return to after signing in must be a path on this server, or an
// address on a host with a forward-auth rule (returnto.go, returnurl.go).
//
// # Enrollment and self-service
//
// /enroll/{token} (the invitation link) and /enroll (username and the code
// from the letter) lead through the enroll package's steps: a security key
// under the group's policy, or an app, then recovery codes. A page shown
// once after a form (the app's QR code, new recovery codes) has a GET
// address that shows the same content again (view.LangPath): the language
// switch and a reload lose nothing. Her first codes are stored as they are
// shown; codes that replace others only when she confirms she stored
// them. /account and /account/factors let a signed-in person see her
// sessions, her factors (method, last use, recovery codes left) and her
// recent sign-ins (method and tool, from their audit events), add factors
// (after a fresh sign-in; a key only after a sign-in with a key or a
// recovery code), rename and remove them (removing asks first, on a page:
// no script), and set or change her password (enroll*.go, account*.go).
// Its "Ihre Daten" section shows what Keyhall holds about her, downloads
// all of it as JSON (/account/data.json) and deletes her account after a
// fresh key touch or app code (account_data.go, the citizens service's
// Export and Delete; DSGVO Art. 15, 17, 20).
// /email/confirm/{token}, a link mailed by "keyhall admin confirm-email",
// confirms the person's address with a button (email.go): then tools see
// it as verified.
//
// With citizens on (Config.Citizens), /register (register.go) takes a
// citizen's e-mail address and name and answers alike whether the address
// has an account (enroll/citizens queues the mail); the mailed link
// /register/confirm/{token} works only in the browser whose cookie
// (__Host-keyhall-register) asked for it, shows a button (mail scanners
// open links), and leads into the ordinary enrollment at /enroll.
// Citizens use only the tools (OIDC clients, forward-auth rules) whose
// groups name their group; one without groups is for everyone else
// (admission.go: Server.admits).
//
// # Tools: OpenID Connect and forward-auth
//
// oidc*.go is the OpenID Connect provider (zitadel/oidc's op, with our own
// authorize and continue handlers, and our own ID tokens at the token
// endpoint, oidc_idtoken.go): code flow only, PKCE S256 for every
// client, the request bound to the browser, back-channel logout when a
// session ends (OIDCSessionEnded, OIDCUserSignedOut). forwardauth.go is
// /auth/verify for nginx, Traefik and Caddy; it fails closed and keeps no
// state for a request without a session. See docs/oidc.md and
// docs/forward-auth.md.
//
// # The IT console
//
// /admin (admin*.go) shows the IT desk (enroll/desk) to people with a desk
// role: the overview, the search, a person's page with the desk's actions,
// the audit log. Whoever has no session or no role gets the 404 of any
// unknown address; a role needs a hardware-key session (phrh), and every
// POST a sign-in of the last 10 minutes, else her own key sign-in starts
// again (username known) and leads back. Refusals of a signed-in person
// are audited as admin.refused. The pages show no secret: no public key,
// app secret, code or session id. Config.Desk configures the desk, built
// in SetStore with the store and the enrollment service.
package web
