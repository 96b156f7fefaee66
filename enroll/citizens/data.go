package citizens

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Her data (DSGVO Art. 15, 17, 20): Export gives a person everything
// Keyhall holds about her, as a value that /account shows and that is
// downloaded as JSON; Delete removes her at her request.
//
//	Export  → Data (profile, groups, factors, sessions, sign-ins, tools,
//	          invitations, audit events, registration, recoveries, notice
//	          of deletion, e-mail confirmations, notice letters, freeze
//	          links; no secret, no key material)
//	Delete  → MayDelete (local, active, not the last admin)
//	        → erase: authn.EraseStore.EraseUser in one transaction (her
//	          rows, sessions, tokens, throttle counters; her audit events
//	          redacted, a pseudonymous "user.erase" appended)
//	        → the tools told (back-channel logout per grant)
//	        → a confirmation mailed to her address, read before.
//
// Whether her sign-in is fresh enough to confirm a deletion is
// ConfirmsDeletion's rule; the web asks for a key touch or an app code
// when it is not.

// DataFormat names the layout of Data; it changes only when a field
// changes its meaning or goes away (new fields may be added).
const DataFormat = "keyhall.personal-data.v1"

// ConfirmWithin is how recent the sign-in that confirms a deletion must be.
const ConfirmWithin = 5 * time.Minute

// Data is everything Keyhall holds about one person, as she gets it. Its
// JSON field names are stable (DataFormat); times are RFC 3339 in UTC and
// left out when they never happened. It holds no secret and no key
// material: no TOTP secret, no public key, no password hash, no session
// or token hash, no recovery code.
type Data struct {
	Format     string    `json:"format"`      // DataFormat
	ExportedAt time.Time `json:"exported_at"` // when this copy was made
	Profile    Profile   `json:"profile"`
	// Groups are the names of her groups (the sign-in policy and the
	// tools see them).
	Groups  []string `json:"groups"`
	Factors []Factor `json:"factors"` // keys and apps, oldest first
	// SuspendedFactors are keys and apps an IT reset set aside (they
	// sign nobody in; they are deleted when she sets up a new one, or
	// given back by IT), oldest first.
	SuspendedFactors []Factor `json:"suspended_factors"`
	// RecoveryCodesLeft is how many unused recovery codes she has (the
	// codes themselves are stored only as hashes).
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
	HasPassword       bool `json:"has_password"` // a local password (stored only as an argon2id hash)
	// Sessions are her active sign-ins (browsers), newest first;
	// EndedSessions those that ended (signed out, revoked, expired) and
	// are kept a while (serve removes them 30 days after their end).
	Sessions      []Session `json:"sessions"`
	EndedSessions []Session `json:"ended_sessions"`
	// SignIns are the stored records of her sign-ins (audit "signin"
	// events; kept for retention.signins), newest first.
	SignIns []SignIn `json:"signins"`
	// Tools are the applications she signed in to through OpenID
	// Connect, with the tokens Keyhall still keeps for them.
	Tools       []Tool       `json:"tools"`
	Invitations []Invitation `json:"invitations"` // oldest first
	// AuditEvents are all audit events that name her (as actor, as
	// subject, or by id, username or address in their details), in
	// order; SignIns are among them.
	AuditEvents []AuditEvent `json:"audit_events"`

	// Registration is her self-registration at /register, if she
	// registered herself.
	Registration *Registration `json:"registration,omitempty"`
	// Recoveries are her recoveries by e-mail (a link asked for, used,
	// ended), oldest first.
	Recoveries []Recovery `json:"recoveries"`
	// InactiveNoticeAt is when she was told that her account, unused,
	// will be deleted 30 days later unless she signs in (left out: not
	// told).
	InactiveNoticeAt time.Time `json:"inactive_notice_at,omitzero"`
	// EmailConfirmations are the links mailed to confirm her address.
	EmailConfirmations []EmailConfirmation `json:"email_confirmations"`
	// NoticeLetters are the letters queued or printed for her (a reset,
	// a factor added), for people without e-mail.
	NoticeLetters []NoticeLetter `json:"notice_letters"`
	// FreezeLinks are the "Das war ich nicht" links in her notices (the
	// links themselves are stored only as hashes).
	FreezeLinks []FreezeLink `json:"freeze_links"`
}

// Registration is her self-registration.
type Registration struct {
	Email      string    `json:"email"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"` // left out: not finished (removed after 24 hours)
}

// Recovery is one recovery by e-mail: a link mailed to Email; used
// (StartedAt), her old factors were due to go at DueAt unless cancelled;
// Outcome tells how it ended (cancelled, finished, superseded, abandoned;
// "" while open). The links are stored only as hashes.
type Recovery struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	AskedAt       time.Time `json:"asked_at"`
	LinkExpiresAt time.Time `json:"link_expires_at"`
	StartedAt     time.Time `json:"started_at,omitzero"`
	DueAt         time.Time `json:"due_at,omitzero"`
	EndedAt       time.Time `json:"ended_at,omitzero"`
	Outcome       string    `json:"outcome,omitempty"`
}

// EmailConfirmation is a link mailed to confirm her address.
type EmailConfirmation struct {
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
}

// NoticeLetter is a notice letter for her.
type NoticeLetter struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Detail    string    `json:"detail,omitempty"` // the factor's name, for a factor added
	CreatedAt time.Time `json:"created_at"`
	PrintedAt time.Time `json:"printed_at,omitzero"`
}

// FreezeLink is a "this was not me" link of one of her notices.
type FreezeLink struct {
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
}

// Profile is the person's own record.
type Profile struct {
	ID            string   `json:"id"` // the "sub" tools know her by
	Username      string   `json:"username"`
	DisplayName   string   `json:"display_name,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	PostalAddress []string `json:"postal_address,omitempty"`
	Phone         string   `json:"phone,omitempty"`
	// Source is "local" (made in Keyhall) or "directory" (from the city's
	// directory Directory, which IT keeps).
	Source    string    `json:"source"`
	Directory string    `json:"directory,omitempty"`
	Status    string    `json:"status"` // active, disabled, frozen
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Factor is one security key, passkey or authenticator app.
type Factor struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // "key" (security key or passkey) or "app"
	Name string `json:"name,omitempty"`
	// Model is the key's model where Keyhall knows it (by its AAGUID).
	Model string `json:"model,omitempty"`
	// CredentialIDPrefix is the first 8 hex digits of the key's WebAuthn
	// credential id, enough to tell keys apart.
	CredentialIDPrefix string    `json:"credential_id_prefix,omitempty"`
	AAGUID             string    `json:"aaguid,omitempty"`
	Transports         []string  `json:"transports,omitempty"`
	Attested           bool      `json:"attested"` // a maker's attestation verified at registration
	Synced             bool      `json:"synced"`   // a passkey that may be copied to her other devices (backup eligible)
	Blocked            bool      `json:"blocked"`  // flagged as possibly copied; refused until IT looks
	CreatedAt          time.Time `json:"created_at"`
	LastUsedAt         time.Time `json:"last_used_at,omitzero"`
}

// Session is one active sign-in.
type Session struct {
	// ID is the handle /account names the session by (authn.SessionHash.Handle).
	ID           string    `json:"id"`
	CreatedAt    time.Time `json:"created_at"`
	SignedInAt   time.Time `json:"signed_in_at"` // when she last proved herself in it
	LastSeenAt   time.Time `json:"last_seen_at,omitzero"`
	ExpiresAt    time.Time `json:"expires_at"`
	ClientAddr   string    `json:"client_addr,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	Methods      []string  `json:"methods"` // RFC 8176 amr: hwk, swk, user, otp, pwd, …
	Level        string    `json:"level,omitempty"`
	RecoveryOnly bool      `json:"recovery_only"`
	// EndedAt is when it was signed out or revoked, else its expiry; only
	// for ended sessions.
	EndedAt time.Time `json:"ended_at,omitzero"`
}

// SignIn is the record of one sign-in.
type SignIn struct {
	Time       time.Time `json:"time"`
	ClientAddr string    `json:"client_addr,omitempty"`
	Methods    []string  `json:"methods,omitempty"`
	Level      string    `json:"level,omitempty"`
	// Tool is the application she signed in for, as /account names it;
	// ToolID as recorded (an OIDC client id or a forward-auth host); both
	// empty for Keyhall itself.
	Tool         string `json:"tool,omitempty"`
	ToolID       string `json:"tool_id,omitempty"`
	RecoveryOnly bool   `json:"recovery_only"`
}

// Tool is an application (OIDC client) she signed in to.
type Tool struct {
	ClientID string   `json:"client_id"`
	Name     string   `json:"name"`
	Scopes   []string `json:"scopes"` // what it was given: openid, profile, email, groups, …
	// FirstIssued and LastIssued are when Keyhall first and last issued
	// it a token of hers (of those still stored); ActiveTokens how many
	// it may still use.
	FirstIssued  time.Time `json:"first_issued"`
	LastIssued   time.Time `json:"last_issued"`
	ActiveTokens int       `json:"active_tokens"`
}

// Invitation is an enrollment invitation made for her (the token itself
// is stored only as a hash).
type Invitation struct {
	ID        string    `json:"id"`
	Purpose   string    `json:"purpose"`
	CreatedBy string    `json:"created_by"` // an audit actor: "system", "cli:<os user>", "user:<id>"
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	VoidedAt  time.Time `json:"voided_at,omitzero"`
}

// AuditEvent is one audit log entry that names her.
type AuditEvent struct {
	Seq        int64             `json:"seq"`
	Time       time.Time         `json:"time"`
	Actor      string            `json:"actor"`
	Action     string            `json:"action"`
	Subject    string            `json:"subject,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	ClientAddr string            `json:"client_addr,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

// ToolNamer is what Config.Tools may also do: name a tool as people know
// it (an OIDC client's configured name), from what a sign-in recorded.
type ToolNamer interface {
	ToolName(id string) string
}

// Export returns everything Keyhall holds about the person userID
// (authn.ErrNotFound if there is none).
func (s *Service) Export(ctx context.Context, userID string) (Data, error) {
	return s.export(ctx, userID, true)
}

// Summary is Export without the audit events (AuditEvents and SignIns
// empty), for a page shown often: a person with a long log (an
// administrator's every action) would have it all read each time.
func (s *Service) Summary(ctx context.Context, userID string) (Data, error) {
	return s.export(ctx, userID, false)
}

func (s *Service) export(ctx context.Context, userID string, audit bool) (Data, error) {
	st := s.cfg.Store
	u, err := st.GetUser(ctx, userID)
	if err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	now := s.now()
	d := Data{Format: DataFormat, ExportedAt: now, Profile: profileOf(u), Groups: []string{}}
	groups, err := st.UserGroups(ctx, u.ID)
	if err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	for _, g := range groups {
		d.Groups = append(d.Groups, g.Name)
	}
	creds, err := st.ListCredentials(ctx, u.ID)
	if err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	d.Factors = make([]Factor, 0, len(creds))
	for _, c := range creds {
		d.Factors = append(d.Factors, factorOf(c))
	}
	suspended, err := st.ListSuspendedCredentials(ctx, u.ID)
	if err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	d.SuspendedFactors = make([]Factor, 0, len(suspended))
	for _, c := range suspended {
		d.SuspendedFactors = append(d.SuspendedFactors, factorOf(c))
	}
	if d.RecoveryCodesLeft, err = st.CountRecoveryCodes(ctx, u.ID); err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	switch _, err := st.GetPasswordHash(ctx, u.ID); {
	case err == nil:
		d.HasPassword = true
	case !errors.Is(err, authn.ErrNotFound):
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	sessions, err := st.ListUserSessions(ctx, u.ID, now)
	if err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	d.Sessions = make([]Session, 0, len(sessions))
	for _, x := range sessions {
		d.Sessions = append(d.Sessions, sessionOf(x))
	}
	ended, err := st.ListEndedSessions(ctx, u.ID, now)
	if err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	d.EndedSessions = make([]Session, 0, len(ended))
	for _, x := range ended {
		e := sessionOf(x)
		if e.EndedAt = x.RevokedAt; e.EndedAt.IsZero() {
			e.EndedAt = x.ExpiresAt
		}
		d.EndedSessions = append(d.EndedSessions, e)
	}
	if d.Tools, err = s.toolsOf(ctx, u.ID, now); err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	invs, err := st.ListUserInvitations(ctx, u.ID)
	if err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	d.Invitations = make([]Invitation, 0, len(invs))
	for _, i := range invs {
		d.Invitations = append(d.Invitations, Invitation{ID: i.ID, Purpose: string(i.Purpose), CreatedBy: i.CreatedBy,
			CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt, UsedAt: i.UsedAt, VoidedAt: i.VoidedAt})
	}
	if err := s.recordsOf(ctx, u.ID, &d); err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	d.AuditEvents, d.SignIns = []AuditEvent{}, []SignIn{}
	if !audit {
		return d, nil
	}
	if err := s.auditOf(ctx, u, &d); err != nil {
		return Data{}, fmt.Errorf("export data of %s: %w", userID, err)
	}
	return d, nil
}

// recordsOf reads her registration, recoveries, notice of deletion,
// e-mail confirmations, notice letters and freeze links into d.
func (s *Service) recordsOf(ctx context.Context, userID string, d *Data) error {
	r, err := s.cfg.Store.ListPersonRecords(ctx, userID)
	if err != nil {
		return err
	}
	if !r.Registration.CreatedAt.IsZero() {
		d.Registration = &Registration{Email: r.Registration.Email, CreatedAt: r.Registration.CreatedAt, FinishedAt: r.Registration.FinishedAt}
	}
	d.InactiveNoticeAt = r.InactiveNotice
	d.Recoveries = make([]Recovery, 0, len(r.Recoveries))
	for _, x := range r.Recoveries {
		d.Recoveries = append(d.Recoveries, Recovery{ID: x.ID, Email: x.Email, AskedAt: x.CreatedAt, LinkExpiresAt: x.LinkExpiresAt,
			StartedAt: x.StartedAt, DueAt: x.DueAt, EndedAt: x.EndedAt, Outcome: x.Outcome})
	}
	d.EmailConfirmations = make([]EmailConfirmation, 0, len(r.EmailConfirmations))
	for _, x := range r.EmailConfirmations {
		d.EmailConfirmations = append(d.EmailConfirmations, EmailConfirmation{Email: x.Email, CreatedAt: x.CreatedAt,
			ExpiresAt: x.ExpiresAt, UsedAt: x.UsedAt})
	}
	d.NoticeLetters = make([]NoticeLetter, 0, len(r.NoticeLetters))
	for _, x := range r.NoticeLetters {
		d.NoticeLetters = append(d.NoticeLetters, NoticeLetter{ID: x.ID, Kind: x.Kind, Detail: x.Detail, CreatedAt: x.CreatedAt, PrintedAt: x.PrintedAt})
	}
	d.FreezeLinks = make([]FreezeLink, 0, len(r.FreezeTokens))
	for _, x := range r.FreezeTokens {
		d.FreezeLinks = append(d.FreezeLinks, FreezeLink{CreatedAt: x.CreatedAt, ExpiresAt: x.ExpiresAt, UsedAt: x.UsedAt})
	}
	return nil
}

func profileOf(u authn.User) Profile {
	return Profile{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email,
		EmailVerified: u.EmailVerified(), PostalAddress: u.PostalAddress, Phone: u.Phone, Source: string(u.Source),
		Directory: u.Directory, Status: string(u.Status), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func sessionOf(x authn.Session) Session {
	return Session{ID: x.Hash.Handle(), CreatedAt: x.CreatedAt, SignedInAt: x.AuthTime, LastSeenAt: x.LastSeenAt,
		ExpiresAt: x.ExpiresAt, ClientAddr: x.ClientAddr, UserAgent: x.UserAgent, Methods: orEmpty(x.AMR), Level: x.ACR,
		RecoveryOnly: x.RecoveryOnly}
}

// factorOf describes a key or app without its secret or public key.
func factorOf(c authn.Credential) Factor {
	f := Factor{ID: c.ID, Kind: "app", Name: c.Nickname, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt}
	if enroll.DefaultNickname(c.Nickname) {
		f.Name = ""
	}
	if c.Kind != authn.KindWebAuthn {
		return f
	}
	f.Kind, f.Attested, f.Synced, f.Blocked, f.Transports = "key", c.Attested, c.BackupEligible, c.Cloned, c.Transports
	f.CredentialIDPrefix = hex.EncodeToString(c.WebAuthnID[:min(4, len(c.WebAuthnID))])
	if a, err := uuid.FromBytes(c.AAGUID); err == nil && a != uuid.Nil {
		f.AAGUID, f.Model = a.String(), enroll.ModelName(a)
	}
	return f
}

// toolsOf groups her OIDC tokens by client.
func (s *Service) toolsOf(ctx context.Context, userID string, now time.Time) ([]Tool, error) {
	toks, err := s.cfg.Store.ListUserOIDCTokens(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []Tool{}
	for _, t := range toks {
		i := slices.IndexFunc(out, func(x Tool) bool { return x.ClientID == t.ClientID })
		if i < 0 {
			out = append(out, Tool{ClientID: t.ClientID, Name: s.toolName(t.ClientID), Scopes: []string{}, FirstIssued: t.CreatedAt})
			i = len(out) - 1
		}
		x := &out[i]
		if t.CreatedAt.Before(x.FirstIssued) {
			x.FirstIssued = t.CreatedAt
		}
		if t.CreatedAt.After(x.LastIssued) {
			x.LastIssued = t.CreatedAt
		}
		for _, sc := range t.Scopes {
			if !slices.Contains(x.Scopes, sc) {
				x.Scopes = append(x.Scopes, sc)
			}
		}
		if t.Usable(now) {
			x.ActiveTokens++
		}
	}
	return out, nil
}

// auditPage is how many audit events auditOf reads at once.
const auditPage = 1000

// auditOf reads every audit event that names u into d, and her sign-ins
// among them.
func (s *Service) auditOf(ctx context.Context, u authn.User, d *Data) error {
	var after int64
	for {
		evs, err := s.cfg.Store.ListPersonAudit(ctx, u, after, auditPage)
		if err != nil {
			return err
		}
		for _, e := range evs {
			d.AuditEvents = append(d.AuditEvents, AuditEvent{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action,
				Subject: e.Subject, Reason: e.Reason, ClientAddr: e.ClientAddr, Details: e.Details})
			if e.Action == "signin" && e.Subject == "user:"+u.ID {
				tool := e.Details["tool"]
				d.SignIns = append(d.SignIns, SignIn{Time: e.Time, ClientAddr: e.ClientAddr, Methods: strings.Fields(e.Details["amr"]),
					Level: e.Details["acr"], Tool: s.toolName(tool), ToolID: tool, RecoveryOnly: e.Details["recovery_only"] == "true"})
			}
		}
		if len(evs) < auditPage {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	slices.Reverse(d.SignIns)
	return nil
}

// toolName names a tool as people know it, where Config.Tools can.
func (s *Service) toolName(id string) string {
	if n, ok := s.cfg.Tools.(ToolNamer); ok && id != "" {
		return n.ToolName(id)
	}
	return id
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
