// Package enroll brings people to their factors: invitations, security
// keys under a per-group key policy, authenticator apps, recovery codes,
// and IT's reset. It knows nothing of HTTP. Links are built from the
// configured public URL only, never from a request.
//
// # Invitations
//
// IT issues an invitation for one person (Service.Issue): a link with a
// token of 52 symbols of CodeAlphabet in groups of four (257 bits; case
// and dashes do not matter, NormalizeToken), and a short code to read
// aloud or type, "K7XM-4RPQ-9TWD-3HNA" (16 symbols of CodeAlphabet, which
// leaves out 0/O and 1/I/L: 79 bits).
// The store keeps only hashes: the token's SHA-256, and the code's SHA-256
// salted with the person's id. Issuing a new invitation voids the older
// ones and ends her enrollments in progress (in its audited transaction);
// the expiry is checked when the invitation is used. The first
// administrator's bootstrap invitation (Bootstrap) is a link without a code
// and is redeemed the same way.
//
// # The flow
//
// An enrollment is a small state machine kept in the store
// (authn.EnrollPending), keyed by the SHA-256 of a random 256-bit id that
// lives only in the browser's cookie. Every step takes it (single use) and
// puts it back under a new id, so a ceremony is bound to the browser that
// began it, can finish on another process, and cannot be replayed:
//
//	Redeem(token | username+code [+ directory password])    → open, invitation not yet used
//	BeginKey → FinishKey                                    → key stored; the FIRST factor
//	BeginTOTP → ConfirmTOTP(code)                             also consumes the invitation,
//	                                                          in the same transaction
//	SetPassword(password)                                   → a local person's password (after a factor)
//	NewRecoveryCodes → KeepRecoveryCodes                    → ten codes, shown until she confirms (needs a factor and a password)
//	Finish
//
// Redeeming does not use the invitation up: the first factor stored does,
// in one transaction with it (authn.EnrollStore.CompleteEnrollStep), so
// of two browsers racing with one link exactly one stores a key, and a link
// replayed after success is refused. The same transaction stores the
// enrollment's next step: a stored factor or new recovery codes always lead
// on, and after an error past that write Progress still has the new ID.
// Between steps an enrollment waits IdleTTL (30 minutes); once the first
// factor used the invitation up, it ends InvitationEnrollTTL (an hour)
// later, whatever its steps (the link leads nowhere then: she signs in and
// goes on at /account), so a tab left open at a kiosk adds nothing later.
// One step outlives the hour: the password her invitation requires
// (Terms.RequirePassword), while she lacks it (her app would not sign her
// in without it); the 30 minutes between steps still apply. An ended
// enrollment tells her to sign in only if her factors can sign her in, and
// otherwise to ask IT for a new invitation.
// Failed tries at the link or code, the directory password and the app code
// are throttled per person and per client address (10 in 15 minutes): only
// failures count, each before its refusal is answered, while the tries in
// flight count against the limit; a right answer, and a real link that is
// used or expired, count nothing. A refused step returns
// an *Error, whose DE and EN texts say what is needed, together with a
// Progress whose new ID lets the person try again.
//
// # Key policy
//
// Policy maps groups to a KeyPolicy; a person gets the Rules of all her
// groups (or the default), and a key must satisfy every one. FinishKey runs
// go-webauthn's registration checks (WebAuthn L3 §7.1 steps 5–21,
// including the attestation signature of §8.2 packed and §8.6 fido-u2f) and
// CheckKey: a credential id of at most 1023 bytes (step 25), an ES256, EdDSA
// or RS256 key, the AAGUID in the attestation certificate equal to the one
// in the authenticator data (§8.2.1), and per group: the x5c chain verified
// with crypto/x509 against the group's roots at the current time ("none"
// and self attestation refused where roots are required, steps 22–24), the
// AAGUID on the group's list, the backup-eligible flag refused where synced
// passkeys are, and user verification where required. A credential id
// already registered is refused (step 26). Keyhall ships Yubico's three
// FIDO attestation roots and the AAGUIDs of current YubiKeys (YubicoRoots,
// YubiKeyModels, YubiKeyPolicy; sources in roots/README.md); nothing is
// downloaded at run time.
//
// Every registration asks for direct attestation. A key whose chain ends in
// a trusted root (Policy.TrustedRoots: Yubico's, always, and every group's)
// is stored as Attested, with its chain: only such a key signs in as a
// hardware key (amr hwk, acr phrh), so a YubiKey does with no policy at
// all. Policy.CheckStoredKey applies a group's roots, models and refusal
// of synced passkeys to a stored key at every sign-in (authn.KeyPolicy).
//
// # Key models from FIDO's Metadata Service
//
// Package mds verifies, offline, an MDS3 blob the city downloaded, and
// mds.Import stores its models (authn.KeyModelStore). Registration reads
// the model of the new key there (Service.modelOf): its name replaces the
// shipped list's (Models.Name, also on IT's pages), and a group with
// KeyPolicy.RefuseCompromised refuses a model whose status reports name
// one of authn.CompromiseStatuses (ReasonCompromised), and a key whose
// model its attestation does not prove (ReasonModelUnproven: its AAGUID is
// only its own word). A model is proven for a group (GroupRule.modelProven)
// by an attestation certificate that names it and chains, at registration,
// to a root the blob lists for that very model (authn.KeyModel.Roots, read
// with the model), to one of the group's own roots, or to Yubico's shipped
// ones; another group's roots prove nothing for it. Keys registered
// before are not refused at sign-in; IT sees them flagged (desk, keyhall
// admin keys report).
//
// # Passwords
//
// An app code, a recovery code and a key without PIN are followed at
// sign-in by the password. So a local person without one chooses it in
// her enrollment, after her first factor (SetPassword; Offer.SetPassword
// tells the pages to ask): at least authn.MinPasswordLength characters,
// not on the list of common passwords shipped with the binary, no
// composition rules (NIST SP 800-63B-4), hashed with argon2id. She
// changes it, or sets a first one, on /account with a fresh sign-in that
// did not come from a recovery code (ChangePassword). A directory
// person's password stays the directory's. Recovery codes, and an app
// outside an invitation, are added only for a person with a password
// Keyhall can check; where she has none to give, they are not offered
// (Offers), and a key with PIN is what remains. An app is not offered
// where a group's sign-in level (KeyPolicy.SignInLevel) is phr or phrh,
// which an app does not reach. IT can require the password at invitation
// (Terms.RequirePassword, keyhall admin invite|reset --require-password;
// refused for a directory person): then the invitation's enrollment does
// not finish (Finish) while the local person has none, and Offer.
// PasswordRequired tells the pages to say so. A local person whose every
// group's KeyPolicy.NoPassword is set (the citizens' group) is never asked
// for one: her app and recovery codes sign her in alone
// (authn.GroupPolicy.NoPassword), so both are offered without it
// (Offer.NoPassword).
//
// # Apps, recovery codes, reset
//
// BeginTOTP makes a 160-bit secret and renders its QR code on the server;
// the secret waits, sealed, in the enrollment until ConfirmTOTP gets a right
// code (RFC 6238, one step of drift): a wrong code stores nothing, and
// ShowTOTP shows the same secret again (after a wrong code, a language
// switch). The app's entry is named Config.Issuer (the site's name, as the
// sign-in page names it; TOTPIssuer by default). A group may forbid apps,
// or an app as the only factor. NewRecoveryCodes makes new codes that wait,
// sealed, in the enrollment (ShowRecoveryCodes shows the same ones again).
// Her first codes (she has none unused: a first enrollment, after a reset)
// are stored as they are shown; codes that would replace others are stored
// only by KeepRecoveryCodes, when she confirms she stored them, so her old
// sheet works until then. Only their hashes are kept
// (authn.HashRecoveryCode).
// Reset suspends every key and app of a person (kept, but read by no
// sign-in and not listed as hers; deleted in the transaction that stores
// her next key or app), removes her recovery codes, revokes her sessions
// and issues a new invitation, with one audit event naming who, whom, why
// and what was taken; RevokeCredential removes one lost key.
//
// # "This was not me"
//
// The notice of a reset (ResetReport.FreezeLink) and of every factor added
// carries a link /freeze/{token} (NewFreezeToken: 256 random bits, only its
// hash stored, single use, authn.FreezeTokenTTL). FreezeTarget shows whom
// it is for and changes nothing; Freeze freezes the account
// (authn.StatusFrozen): her sessions end, her invitations are voided, and
// sign-in and enrollment are refused (ReasonFrozen) until an administrator
// lifts it (authn.FreezeStore.UnfreezeUser).
//
// A person whom no mail reaches (no address, no mailer, or the mail
// failed) gets the notice by post: QueueNoticeLetter queues it
// (authn.NoticeLetterStore), and the IT desk prints the queue
// (WriteNoticeLetters), each letter with a new link (LetterFreezeLink).
//
// # Self-service
//
// A signed-in person manages her own factors. Open starts an enrollment
// without an invitation for what her session may add, by one rule
// (ScopeOf): after a key sign-in a key, an app or new recovery codes;
// after a recovery code a key or an app; after an app code and password an
// app only. The enrollment keeps what it was opened for (its
// authn.EnrollScope), the hash of the session and an absolute end
// (SelfServiceTTL after the session's sign-in, never renewed). Open asks
// for a sign-in at most FreshSignIn old; every step (BeginKey, FinishKey,
// BeginTOTP, ConfirmTOTP, NewRecoveryCodes) checks, in this package and
// not in the handler that opened it, that the person is active, the
// session live, the end not reached, and the scope: so it ends with its
// session (sign-out, revocation, reset, disabling), and IT's revocation
// of a credential ends it too (authn.EnrollStore.DeleteCredential). An
// invitation's enrollment has the whole scope and no session. Rename and Remove, like
// ChangePassword, need a fresh sign-in (SignInFresh) that did not come
// from a recovery code. Rename gives a key or app a nickname
// (CheckNickname: 1–64 characters, no control characters); Remove takes
// one away, a key only for a sign-in at least at the key's level
// (authn.KeyLevel), but never the last key or app, nor the last key where
// her groups admit no app alone.
// That rule is checked inside the store's transaction
// (authn.EnrollStore.RemoveCredential), so two removals at once cannot
// both pass. IT's RevokeCredential may take the last one. Inspect shows
// whom an invitation link is for without using it, throttled like Redeem.
//
// With Config.Mailer set, the person is told by mail whenever a key or app
// is stored (by invitation or self-service) or removed by her, and when
// a sign-in completed with one of her recovery codes used it up
// (RecoveryCodeUsed, called by the web layer, since authn knows no mail).
// IT's Reset and RevokeCredential leave the mail to their caller, which
// reports it.
//
// # Letters and mail
//
// WriteLetter prints an invitation as a German A4 PDF for a DIN lang
// window envelope (DIN 5008 form B: the address field 85 × 45 mm at 20 mm
// from the left and 45 mm from the top, the return address on its first
// line), with three or four steps (a password step only where she chooses
// one, recovery codes only where they will be shown: LetterFacts), the
// link as text (10 pt, broken between the token's groups) and as a vector
// QR code, the code, the expiry and where to get help. It tells her to
// use her password only when Keyhall can check one (Letter.Password),
// else of the key's PIN, and of the password she chooses after the key
// (Letter.ChoosePassword, RequirePassword); after a reset (Letter.Reset) it says her old keys are
// blocked. It is not a tagged PDF: go-pdf/fpdf writes no structure tree
// (StructTreeRoot, marked content); it sets the language and title. Its fonts (DejaVu, fonts/) are embedded, so umlauts print and
// nothing is read at run time. The postal
// address is the caller's (Letter.Address).
//
// Notices writes the mails that tell a person about her factors (added,
// removed, a recovery code used, an IT reset) and her invitation, German
// first and English below, with links from the public URL only. A Mailer
// sends them: SMTPMailer over net/smtp (STARTTLS when offered or required,
// AUTH PLAIN, a timeout for the whole exchange), or LogMailer when no SMTP
// server is configured. A mail that fails never fails the action it tells
// of: Notify logs it and returns it for the caller to show.
//
// Letters and mail name the service Keyhall, or the city's own name
// where Sender.Service (site.name) is set, in quotation marks („Stadt
// Münster – Anmeldung“); the mail is then signed with it too.
package enroll
