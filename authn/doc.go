// Package authn is Keyhall's domain: the people and groups it knows, their
// server-side sessions, invitations, throttle counters and the audit log, and
// the Store interface that keeps them.
//
// The package knows nothing of HTTP and imports no other Keyhall package. A
// test can create a person, open a session for her and revoke it without a
// server; the web package translates HTTP into calls on this package and back.
//
// # Storage
//
// Store is implemented once, on database/sql, by package authn/sqlstore for
// both SQLite (the embedded default) and PostgreSQL (for several processes
// acting as one service). Its behaviour is pinned down by the conformance
// suite in authn/storetest, which both backends run. Methods take a context
// first, plain values, and report the sentinel errors below, matched with
// errors.Is.
//
// Values that may only move forward (a session's last_seen now; a security
// key's sign count and an authenticator app's last time step later) change
// inside the store in one conditional statement: a value at or below the
// stored one is refused with ErrNotForward and nothing is stored.
//
// # Audit log
//
// Every administrative action writes an AuditEvent in the same transaction as
// the change it records. The log is append-only and hash-chained: each event
// carries the hash of the one before (see AuditEvent.ChainHash), so removing
// or editing an entry breaks the chain at that point, which VerifyChain finds
// (a *ChainBreak names the event and why). A refused sign-in step of a
// person who exists is recorded as "signin.refused" with its reason
// (signin_refusal.go); one for an unknown username is not. The store appends an event as
// AuditEvent.Seal returns it, so the hash covers exactly the text stored.
//
// Free text that people type (display names, nicknames, addresses, reasons)
// is checked at every entrance by CheckText, one TextKind per kind of field:
// valid UTF-8, bounded, no control characters.
//
// # Sessions
//
// A session's id is 256 random bits held only in the person's cookie; the
// store keeps its SHA-256 (SessionHash). A session row exists only after all
// required factors: there is no "half signed in" session.
//
// # Sign-in
//
// SignIn runs the sign-in as a small state machine. Its state is a Pending
// sign-in that travels with the browser: its id, in the login cookie, is
// the pending sign-in itself, sealed (XChaCha20-Poly1305 under a key
// derived from the installation's encryption key), so any process can open
// it and nobody else can read or change it. The store keeps only which ids
// were used (UsePending): every step that acts uses its id up in the
// store, atomically and once, in the same write as its outcome, and hands
// out a new id unless the sign-in is complete. So a WebAuthn challenge is
// used once, a step may run on another process than the one before, and
// starting a sign-in (or a passkey ceremony) writes nothing at all. When
// the key comes first, Start opens its ceremony, and BeginKey only opens
// the id again: asked again, it hands out the same challenge, which the
// first assertion checked against it uses up.
//
//	Start(username) ─► key ─┬─ UV done ─────────────────────────► done (hwk|pop|swk, user, mfa)
//	BeginPasskey ───► key ──┘  no UV ─► password ─────────────────► done (hwk|pop|swk, pwd, mfa)
//	                  totp ─────────────► password ─────────────────► done (otp, pwd, mfa)
//	                  totp, NoPassword group ───────────────────────► done (otp), level none
//	                  recovery ─────────► password ─────────────────► done (otp, pwd, mfa), RecoveryOnly
//
// A recovery code is checked at its step but used up only in the write
// that completes the sign-in (with the session and its audit event), so a
// wrong password leaves it unused and of two sign-ins with one code at
// most one completes. A person whose factor needs a password after it and
// who has none Keyhall can check is told so (ReasonNoPassword) after the
// right factor, instead of being led to a password page she cannot pass.
// A person all of whose groups with a policy have GroupPolicy.NoPassword
// (citizens who registered themselves) has no password: her app code or
// recovery code completes the sign-in alone (amr otp, no level; a recovery
// code still gives a RecoveryOnly session, in one write that uses it up),
// and her group's policy asks keys to verify her.
//
// Start leads to the person's strongest factor: key, else app (totp), else
// the key step with fake options (a person with only recovery codes, as an
// unknown name); SwitchTo moves between them while no factor is done. The
// password is asked only after a possession factor, so nobody can guess it,
// or lock a person out of the directory, without her key or app in hand. A
// refused step puts the sign-in back for the same step under a new id
// (SignInError tells why); an expired or out-of-order one ends it.
//
// An unknown username walks the same path: Start answers as for a person
// with a key (or, for some names, an app), BeginKey offers deterministic
// fake credential ids (WebAuthn L3 §14.6.2), and every later step fails.
// Every key ceremony's allowCredentials has at least four entries, real
// ones padded with fake ones whose lengths (and, for an unknown name, whose
// number) follow the installation's keys (Store.KeyStats) by a stable
// draw: a key registered or removed among N changes a fake id with a
// chance of about 1/N, each id on its own, so asking again later does not
// tell a real name (whose real ids stay) from an unknown one; none names
// transports. A disabled person is told so only after a correct possession
// factor, and so is a frozen one
// (StatusFrozen, ReasonFrozen: she said "this was not me" to a notice,
// FreezeStore). The keys and apps an IT reset suspended are read by no
// sign-in: to the key step they are unknown keys, to the app step wrong
// codes.
//
// Security keys are verified by go-webauthn (WebAuthn L3 §7.2 steps 5–21);
// SignIn adds the checks it leaves to the relying party: the key belongs to
// the person (steps 6–7), its backup-eligible flag is the one registered,
// and its sign count moves forward (step 22) or it is flagged as cloned and
// refused from then on, unless the count it did not pass was stored by a
// sign-in with the key that ended after this ceremony began (her key
// answered two tabs, the later answer arrived first): then only this
// assertion is refused (ReasonExpired), and the key is not flagged. App codes follow RFC 6238 (SHA-1, 6 digits, 30 s,
// one step of drift either way) and a time step at or below the last one
// accepted is refused (§5.2). Both counters move in one conditional store
// statement, so two processes racing cannot both win.
//
// Guessable secrets (app codes, recovery codes, passwords) are throttled
// per account and per client address, counted in the store before any
// answer is given (a right app code is checked against the counters in
// the write that accepts it, and counted only if refused), so parallel
// guesses all count and only failures do; while throttled, right and wrong
// answers get the same refusal. The key path is never throttled per account, so a
// stranger cannot lock the owner out of her key.
//
// A directory person's password is checked by her directory
// (SignInConfig.Directory, a bind), after the throttle has counted the try;
// SignInConfig.PasswordLimit keeps Keyhall's limit below the directory's
// lockout threshold. Its answers are refusals of their own (disabled,
// expired, password must change, locked); a directory that does not answer
// is ReasonDirectoryUnavailable, and the try is taken back unless the
// password had reached it (ErrPasswordSent). A key with PIN, which asks the
// directory nothing, is checked live by SignInConfig.DirectoryStatus.
//
// The session records RFC 8176 amr values (hwk, pop, swk, user, pwd, otp,
// mfa) and a level as acr (phrh, phr, mfa). A key is hwk, at phrh, only if
// Credential.Attested: registration verified its attestation against a
// trusted root. Its own flags prove no hardware (a software authenticator
// may leave backup-eligible clear), so another key is pop, and a synced
// passkey swk, both at phr. Group policy can require a level, user
// verification, or forbid apps; a group's key policy (KeyPolicy: roots,
// models, no synced passkeys) is asked again at every key sign-in, so it
// binds keys registered before their owner joined the group.
package authn
