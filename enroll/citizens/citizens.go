// Package citizens is what a city's citizens do with Keyhall by themselves
// (issue #15): register with a proven e-mail address and enroll a passkey
// or an app under the citizens' group policy (register.go), recover by
// e-mail where the group allows it (recover.go), see, download and delete
// what Keyhall holds about them (data.go, DSGVO Art. 15, 17, 20), and the
// retention that removes unused accounts and old sign-in records
// (retention.go). How often a link is mailed to an address, so that a
// stranger can neither flood her mailbox nor keep her from asking, is
// throttle.go's; the canonical form of an address (her username) is
// CanonicalEmail's, and the stored forms it is looked up under (a domain
// in Unicode or in ACE) address_forms.go's. It knows nothing of HTTP: web
// translates.
//
// Enrollment itself is enroll's: a registration or a recovery opens an
// ordinary enrollment (an invitation made for it and redeemed at once), so
// keys, apps, recovery codes and their policy work as for invited people.
package citizens

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/enroll"
)

// Timing of the citizens' flows, from the issue.
const (
	// LinkValidity is how long a registration or recovery link works.
	LinkValidity = 30 * time.Minute
	// UnfinishedAfter: a registration whose enrollment did not finish
	// within this is removed with everything it created.
	UnfinishedAfter = 24 * time.Hour
	// RecoveryDelay: after a recovery by e-mail, the old factors are
	// removed this much later unless she cancels.
	RecoveryDelay = 72 * time.Hour
	// DeletionNotice: an inactive account is deleted this long after its
	// notice was mailed.
	DeletionNotice = 30 * 24 * time.Hour
)

// Tools tells the city's tools that a person's sessions ended (OIDC
// back-channel logout). web.Server implements it (as for desk.Tools).
type Tools interface {
	OIDCUserSignedOut(ctx context.Context, userID string) error
	// OIDCGrantsEnded tells the tools of grants whose tokens ended with
	// an erasure (authn.ErasedUser.Grants): her tokens are gone with her,
	// so OIDCUserSignedOut would find none to tell of.
	OIDCGrantsEnded(ctx context.Context, grants []authn.OIDCGrantRef)
}

// DefaultGroup is the citizens' group when citizens.group is not set.
const DefaultGroup = "buerger"

// Config is what the citizens' service works with.
type Config struct {
	Store     authn.Store
	Enroll    *enroll.Service
	PublicURL *url.URL
	// Group is the canonical name of the citizens' group (citizens.group).
	Group string
	// AdminGroups give the admin role (the desk's admin_group and
	// admin.roles.admin): their last active member may not delete her
	// own account (data.go).
	AdminGroups []string
	// EmailRecovery reports whether a member of the named groups may
	// recover by e-mail (policy.groups[].email_recovery of every group
	// of hers that has a policy, and never with a key policy).
	EmailRecovery func(groups []string) bool
	// InactiveAfter (citizens.inactive_after) and SigninRetention
	// (retention.signins).
	InactiveAfter   time.Duration
	SigninRetention time.Duration
	Mailer          enroll.Mailer
	Notices         enroll.Notices
	Tools           Tools // nil: no tool to tell
	Logger          *slog.Logger
	Now             func() time.Time
	// EncryptionKey seals the registration links (register.go), under a
	// key derived from it for that purpose alone.
	EncryptionKey [32]byte
}

// Service is the citizens' side of Keyhall. It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	reg *registrar    // register.go
	rec recoveryQueue // recover.go
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Enroll == nil || cfg.PublicURL == nil {
		return nil, errors.New("citizens: Store, Enroll and PublicURL are required")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.EmailRecovery == nil {
		cfg.EmailRecovery = func([]string) bool { return false }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{cfg: cfg, log: log}
	s.reg = newRegistrar(s, registerQueueSize, registerWorkers)
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
