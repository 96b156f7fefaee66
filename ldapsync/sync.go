package ldapsync

// The syncer's rules, decided here:
//
//   - A run is staged: read the whole directory (Reader), compute the
//     difference against the Store, apply it in ONE transaction
//     (authn.DirectoryStore.ApplyDirectorySync), under a lease on the
//     directory (TryLockDirectory, checked again in the transaction), so
//     that of several processes on one PostgreSQL database one syncs. A dry
//     run takes no lease and writes nothing.
//   - People are matched by ExternalID within the directory, never by name.
//     Only the mapped attributes (username, display name, e-mail, phone,
//     postal address) count as a change; a new DN alone is none. A new
//     username is a rename: id, factors and sessions stay.
//   - A username held by a local person or a person of another directory
//     is a conflict: reported, and neither is changed (the directory person
//     is not created, or keeps her old name and attributes; her status and
//     groups are still synced). Within the directory, a name is taken over
//     from a person who leaves (she is renamed to "~" + her id), so a person
//     deleted and created again under the same name is a new person and
//     the old one is disabled.
//   - A mapped group whose name is a local group's (or another
//     directory's) is a conflict and is left alone: a directory never takes
//     over a Keyhall group such as "admins". Directory groups the read no
//     longer has lose their members.
//   - Leavers (Person.Inactive, or no longer read) are disabled at once: her
//     sessions and OIDC tokens end in the same transaction, and OnDisabled
//     tells the caller (see SyncConfig). People who were inactive before
//     Keyhall ever saw them are not created. A person the directory disabled
//     who is read active again within GracePeriod is enabled with her
//     factors; after it she is deleted (audit kept). A person an
//     administrator disabled is never enabled or deleted by the sync.
//   - The safety valve aborts the run (nothing at all is changed; the state
//     records the abort, with an audit event and an error log) on a read
//     error, an empty read where the last good one found people, or fewer
//     than 90 % of the last good count. AllowMassChange passes the 90 %
//     check, never the other two.
//   - An incremental run (RunOptions.Incremental; read_changes.go) applies
//     creates, updates, renames, disables and enables of the people it read
//     and reconciles every mapped group; a person it did not read is
//     unchanged, except that she is disabled when she is no longer under
//     the base DNs and the filter or her account's end passed
//     (Snapshot.Present: no change marker shows either); nobody is deleted
//     (the full run's job). It is a full run instead when no full run has been done,
//     the last one is older than Directory.FullInterval, or the reader says
//     the markers cannot be used. The safety valve counts the people the
//     read found (Snapshot.Found). The markers (DirectoryState.Markers) and
//     the time of the last full run advance only with a run that held
//     nobody back, so held-back people are read again.
//   - The mass-change valve: if more than MaxDisableFraction of the
//     directory's people in Keyhall, or more than MaxDisableCount, would be
//     disabled or deleted, none of them is (Result.HeldBack, and they keep
//     their groups), while creates, updates and renames are applied: they
//     take nothing from anybody. AllowMassChange lets them pass, audited as
//     "directory.mass_change". Deletions after the grace period count too.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyhall/keyhall/authn"
)

// The syncer fills in the defaults of config.go where Config leaves a
// value zero.
const (
	// minGoodFraction: a read that finds fewer people than this share of
	// the last good read is refused (unless AllowMassChange).
	minGoodFraction = 0.9
)

// Outcomes of a run, as DirectoryState.LastOutcome keeps them.
const (
	outcomeOK       = "ok"
	outcomeAborted  = "aborted"
	outcomeHeldBack = "held_back"
	outcomeFailed   = "failed"
)

var (
	// ErrBusy: another process (or run) holds the directory's sync lease;
	// this run did nothing.
	ErrBusy = errors.New("another process is syncing this directory")
	// ErrAborted: the safety valve refused the read; nothing was changed.
	// Result.AbortReason says why.
	ErrAborted = errors.New("sync aborted by the safety valve")
)

// Syncer mirrors one directory into the Store. Create it with NewSyncer;
// Run may be called again and again (serve runs it on the interval).
type Syncer struct {
	cfg    SyncConfig
	dir    Config
	reader Reader
	log    *slog.Logger
	now    func() time.Time
}

// NewSyncer returns a Syncer for cfg. The directory's Name is required;
// zero durations and limits of cfg.Directory take the defaults above.
func NewSyncer(cfg SyncConfig) (*Syncer, error) {
	if cfg.Store == nil {
		return nil, errors.New("ldapsync: SyncConfig.Store is nil")
	}
	d := cfg.Directory.WithDefaults()
	if d.Name == "" {
		return nil, errors.New("ldapsync: the directory has no name")
	}
	r := cfg.Reader
	if r == nil {
		dir, err := NewDirectory(cfg.Directory, cfg.Logger)
		if err != nil {
			return nil, err
		}
		r = dir
	}
	s := &Syncer{cfg: cfg, dir: d, reader: r, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.log = s.log.With("directory", d.Name)
	return s, nil
}

// Run reads the directory and brings the Store in line with it (or, with
// opts.DryRun, only says what it would change). The Result is filled also
// when an error is returned: ErrBusy (another process syncs it), an error
// wrapping ErrAborted (the safety valve; Result.AbortReason), or a Store
// error (nothing was changed: the changes are one transaction).
func (s *Syncer) Run(ctx context.Context, opts RunOptions) (res Result, err error) {
	name := s.dir.Name
	start := s.now().UTC()
	res = Result{Directory: name, DryRun: opts.DryRun, Started: start,
		Created: []Change{}, Updated: []Change{}, Renamed: []Change{}, Disabled: []Change{}, Enabled: []Change{},
		Deleted: []Change{}, Conflicts: []Change{}, Errors: []string{}}
	defer func() { res.Duration = s.now().Sub(start) }()
	actor := cmp.Or(opts.Actor, "system:sync")
	st := s.cfg.Store

	holder := ""
	ttl := 2*s.dir.SyncDeadline + time.Minute
	if !opts.DryRun {
		holder = authn.NewID()
		ok, err := st.TryLockDirectory(ctx, name, holder, start, ttl)
		if err != nil {
			return res, err
		}
		if !ok {
			return res, ErrBusy
		}
		defer func() {
			if err := st.UnlockDirectory(context.WithoutCancel(ctx), name, holder); err != nil {
				s.log.Error("directory sync: unlock", "err", err)
			}
		}()
	}
	state, err := st.GetDirectoryState(ctx, name)
	if err != nil {
		return res, err
	}

	marks := decodeSyncMarkers(state.Markers)
	snap, h, readErr, err, restoreGC := s.read(ctx, &res, marks, opts)
	defer restoreGC()
	if err != nil {
		return res, err
	}
	if reason := s.valve(snap, readErr, state, h, opts); reason != "" {
		return s.abort(ctx, &res, state, reason, readErr, actor, opts)
	}
	groups, err := st.ListDirectoryGroups(ctx, name)
	if err != nil {
		return res, err
	}

	p := s.plan(ctx, &res, snap, h, groups, opts)
	if p.err != nil {
		return res, p.err
	}
	// The changes hold what they need of the read; the rest is not kept
	// through the transaction (a first sync's is the largest heap it has).
	people := found(snap)
	snap.People, snap.Groups, snap.Present, snap.Skipped = nil, nil, nil, nil
	if opts.DryRun {
		return res, nil
	}

	now := s.now().UTC()
	newState := state
	newState.LastGoodPeople, newState.LastSuccessAt, newState.LastRunAt = people, now, now
	newState.LastOutcome, newState.LastError = outcomeOK, ""
	if res.HeldBack > 0 {
		// The markers stay: the next run reads the held-back people again
		// (and, after a full run, is full again), so the warning stays too.
		newState.LastOutcome, newState.LastError = outcomeHeldBack, res.HeldBackReason
	} else {
		next := syncMarkers{FullAt: marks.FullAt, Reader: snap.Markers}
		if !snap.Incremental {
			next.FullAt = start
		}
		newState.Markers = next.encode()
	}
	p.ch.Holder, p.ch.At, p.ch.DeleteBefore, p.ch.State = holder, now, now.Add(-s.dir.GracePeriod), &newState
	events := []authn.AuditEvent{s.event(now, actor, "directory.sync", "", res, people)}
	if p.massAllowed {
		ev := s.event(now, actor, "directory.mass_change", "allowed by --allow-mass-change", res, people)
		events = append(events, ev)
	}
	if ok, err := st.TryLockDirectory(ctx, name, holder, now, ttl); err != nil || !ok {
		return res, cmp.Or(err, ErrBusy)
	}
	done, err := st.ApplyDirectorySync(ctx, name, p.ch, events...)
	if errors.Is(err, authn.ErrNotLocked) {
		return res, fmt.Errorf("%w: %w", ErrBusy, err) // the lease ran out; another process syncs now
	}
	if err != nil {
		s.fail(ctx, state, err, actor)
		return res, err
	}
	res.Logouts = done.Logouts
	s.log.Info("directory sync", "created", len(res.Created), "updated", len(res.Updated), "renamed", len(res.Renamed),
		"disabled", len(done.Disabled), "enabled", len(done.Enabled), "deleted", len(done.Deleted),
		"unchanged", res.Unchanged, "conflicts", len(res.Conflicts), "held_back", res.HeldBack)
	if len(done.Disabled) > 0 && s.cfg.OnDisabled != nil {
		s.cfg.OnDisabled(ctx, done.Disabled)
	}
	return res, nil
}

// valve returns why a read must not be applied, or "".
func (s *Syncer) valve(snap Snapshot, readErr error, state authn.DirectoryState, h *stored, opts RunOptions) string {
	if readErr != nil {
		return "the directory could not be read completely: " + readErr.Error()
	}
	if snap.Directory != "" && snap.Directory != s.dir.Name {
		return fmt.Sprintf("the reader read directory %q, not %q", snap.Directory, s.dir.Name)
	}
	last := state.LastGoodPeople
	if last == 0 { // never synced (or its state is lost): the people it brought count
		for _, u := range h.people {
			if live(u.status) {
				last++
			}
		}
	}
	n := found(snap)
	if n == 0 && last > 0 {
		return fmt.Sprintf("the directory gave no people, where the last good read found %d (lost read rights?)", last)
	}
	if float64(n) < minGoodFraction*float64(last) && !opts.AllowMassChange {
		return fmt.Sprintf("the directory gave %d people, fewer than 90 %% of the %d the last good read found", n, last)
	}
	return ""
}

// abort records a run the safety valve stopped: nothing changes but the
// state's record of the last run, with an audit event.
// The error wraps ErrAborted and the read's error, if any.
func (s *Syncer) abort(ctx context.Context, res *Result, state authn.DirectoryState, reason string, readErr error, actor string, opts RunOptions) (Result, error) {
	res.Aborted, res.AbortReason = true, reason
	s.log.Error("directory sync aborted: nobody was disabled or deleted", "reason", reason, "dry_run", opts.DryRun)
	if !opts.DryRun {
		now := s.now().UTC()
		state.LastRunAt, state.LastOutcome, state.LastError = now, outcomeAborted, reason
		ev := authn.AuditEvent{Time: now, Actor: actor, Action: "directory.sync.abort", Subject: "directory:" + s.dir.Name,
			Reason: reason}
		if err := s.cfg.Store.PutDirectoryState(ctx, state, ev); err != nil {
			return *res, fmt.Errorf("%w: %s (and recording it failed: %w)", ErrAborted, reason, err)
		}
	}
	if readErr != nil {
		return *res, fmt.Errorf("%w: reading the directory: %w", ErrAborted, readErr)
	}
	return *res, fmt.Errorf("%w: %s", ErrAborted, reason)
}

// fail records a run whose changes could not be stored (best effort).
func (s *Syncer) fail(ctx context.Context, state authn.DirectoryState, cause error, actor string) {
	s.log.Error("directory sync failed: nothing was changed", "err", cause)
	now := s.now().UTC()
	state.LastRunAt, state.LastOutcome, state.LastError = now, outcomeFailed, cause.Error()
	ev := authn.AuditEvent{Time: now, Actor: actor, Action: "directory.sync.fail", Subject: "directory:" + s.dir.Name,
		Reason: cause.Error()}
	if err := s.cfg.Store.PutDirectoryState(context.WithoutCancel(ctx), state, ev); err != nil {
		s.log.Error("directory sync: record the failure", "err", err)
	}
}

// event is the audit event of a run with its counts.
func (s *Syncer) event(now time.Time, actor, action, reason string, res Result, people int) authn.AuditEvent {
	ids := func(cs []Change) string {
		out := make([]string, 0, len(cs))
		for _, c := range cs {
			if c.Kind == kindPerson {
				out = append(out, c.ID)
			}
		}
		return strings.Join(out, " ")
	}
	return authn.AuditEvent{Time: now, Actor: actor, Action: action, Subject: "directory:" + s.dir.Name, Reason: reason,
		Details: map[string]string{
			"people":    strconv.Itoa(people),
			"created":   strconv.Itoa(len(res.Created)),
			"updated":   strconv.Itoa(len(res.Updated)),
			"renamed":   strconv.Itoa(len(res.Renamed)),
			"disabled":  strconv.Itoa(len(res.Disabled)),
			"enabled":   strconv.Itoa(len(res.Enabled)),
			"deleted":   strconv.Itoa(len(res.Deleted)),
			"unchanged": strconv.Itoa(res.Unchanged),
			"conflicts": strconv.Itoa(len(res.Conflicts)),
			"held_back": strconv.Itoa(res.HeldBack),
			"errors":    strconv.Itoa(len(res.Errors)),
			// who: the ids of the people whose access changed
			"disabled_ids": ids(res.Disabled),
			"enabled_ids":  ids(res.Enabled),
			"deleted_ids":  ids(res.Deleted),
			// disabled by an administrator, whose disable the directory
			// now shares or no longer shares
			"also_disabled":     strconv.Itoa(len(res.AlsoDisabled)),
			"also_enabled":      strconv.Itoa(len(res.AlsoEnabled)),
			"also_disabled_ids": ids(res.AlsoDisabled),
			"also_enabled_ids":  ids(res.AlsoEnabled),
		}}
}

const (
	kindPerson = "person"
	kindGroup  = "group"
)

// Reasons a person is disabled (Change.Reason).
const (
	ReasonDisabled = "disabled in directory"
	ReasonExpired  = "expired"
	ReasonNotFound = "not found"
)

// personPlan is what a run does with one person of the directory, known to
// Keyhall or new.
type personPlan struct {
	p        *Person       // nil: not in the read (vanished)
	cur      *storedPerson // nil: new
	id       string        // her Keyhall id (new: a new one)
	username string        // her username after the run
	fields   []string      // the mapped attributes that change
	disable  string        // reason, if she is disabled now
	enable   bool
	delete   bool
	// alsoDisable: the reason the directory disables her too, whom an
	// administrator disabled; alsoEnable: the directory enables again a
	// person it and an administrator disabled. Her status stays; who
	// disabled her changes (authn.DisabledByAdminAndDirectory).
	alsoDisable string
	alsoEnable  bool
	conflict    string // why her create or update is not applied
	// untouched: an incremental run did not read her; she stays as she is
	// (and in her groups).
	untouched bool
	// kept: she is a member of her groups after the run (set by finish).
	kept bool
}

// renames reports whether she takes a new username.
func (x *personPlan) renames() bool { return x.cur != nil && x.username != x.cur.username }

// claims reports whether her create or rename needs a username.
func (x *personPlan) claims() bool {
	return x.conflict == "" && (x.cur == nil || x.renames())
}

// disabledAfter reports whether she is disabled after the run.
func (x *personPlan) disabledAfter() bool {
	if x.cur == nil {
		return false
	}
	if x.disable != "" {
		return true
	}
	return x.cur.status == authn.StatusDisabled && !x.enable
}

// user is her row as the run creates or updates it: the mapped attributes
// of the read (the Store's update sets only those, her username, her
// ExternalID and UpdatedAt).
func (x *personPlan) user(dir string, now time.Time) authn.User {
	p := x.p
	u := authn.User{ID: x.id, ExternalID: p.ExternalID, Username: x.username, DisplayName: p.DisplayName, Email: p.Email,
		Phone: p.Phone, PostalAddress: p.PostalAddress, Status: authn.StatusActive, Source: authn.SourceDirectory,
		Directory: dir, CreatedAt: now, UpdatedAt: now}
	if len(u.PostalAddress) == 0 {
		u.PostalAddress = nil
	}
	if x.cur != nil {
		u.ExternalID, u.Status, u.CreatedAt = x.cur.ext, x.cur.status, time.Time{}
	}
	return u
}

// plan is a run's difference.
type plan struct {
	ch          authn.DirectoryChanges
	massAllowed bool
	err         error
}

// plan computes the difference between the read and the Store, fills res
// and returns the changes to apply.
func (s *Syncer) plan(ctx context.Context, res *Result, snap Snapshot, h *stored, groups []authn.DirectoryGroup, opts RunOptions) plan {
	now := s.now().UTC()
	known := make([]personPlan, len(h.people)) // the people Keyhall holds, by h.people's index
	byName := make(map[string]*personPlan, len(h.people))
	for i := range h.people {
		u := &h.people[i]
		known[i] = personPlan{cur: u, id: u.id, username: u.username}
		byName[u.username] = &known[i]
	}
	byExt := func(ext string) *personPlan {
		if i, ok := h.byExt[ext]; ok {
			return &known[i]
		}
		return nil
	}
	var all []*personPlan                    // in order: the read's people, then the vanished
	news := map[string]*personPlan{}         // the people read that Keyhall does not hold (nil: not created)
	anyone := func(ext string) *personPlan { // Keyhall's or new
		if x := byExt(ext); x != nil {
			return x
		}
		return news[ext]
	}
	for i := range snap.People {
		p := &snap.People[i]
		if p.ExternalID == "" {
			res.Errors = append(res.Errors, fmt.Sprintf("a person without an id (%s) is skipped", p.DN))
			continue
		}
		x := byExt(p.ExternalID)
		if _, isNew := news[p.ExternalID]; isNew || x != nil && x.p != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("the id %s is read twice (%s); the second is skipped", p.ExternalID, p.DN))
			continue
		}
		username, err := authn.CanonicalName(p.Username)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: username %q: %v; she is not changed", p.DN, p.Username, err))
			if x != nil {
				x.p = p // seen, so not a leaver; changed in no way
				x.conflict = "invalid username"
				all = append(all, x)
			} else {
				news[p.ExternalID] = nil
			}
			continue
		}
		active := !p.Inactive(now)
		if x == nil {
			news[p.ExternalID] = nil
			if !active {
				continue // not imported before she may sign in
			}
			x = &personPlan{id: authn.NewID()}
			news[p.ExternalID] = x
		}
		x.p = p
		all = append(all, x)
		mapPerson(x, p, username)
		if x.cur == nil {
			continue
		}
		switch {
		case live(x.cur.status) && !active: // a frozen leaver too
			x.disable = ReasonExpired
			if p.Disabled {
				x.disable = ReasonDisabled
			}
		case x.cur.status == authn.StatusDisabled && active && x.cur.disabledBy == authn.DisabledByDirectory:
			x.enable = true
		case x.cur.status == authn.StatusDisabled && active && x.cur.disabledBy == authn.DisabledByAdminAndDirectory:
			x.alsoEnable = true
		case x.cur.status == authn.StatusDisabled && !active && x.cur.disabledBy == authn.DisabledByAdmin:
			x.alsoDisable = ReasonExpired
			if p.Disabled {
				x.alsoDisable = ReasonDisabled
			}
		}
	}
	// Entries the reader found but could not map (Snapshot.Skipped) are
	// still in the directory: a person among them whose id it read is no
	// leaver. She is left as she is, memberships included, and reported.
	held := map[string]bool{}
	for _, sk := range snap.Skipped {
		res.Errors = append(res.Errors, fmt.Sprintf("%s: skipped by the read (%s); she is not changed", sk.DN, sk.Reason))
		if x := byExt(sk.ExternalID); sk.ExternalID != "" && x != nil && x.p == nil {
			x.p = &Person{ExternalID: sk.ExternalID, DN: sk.DN}
			x.conflict = "skipped by the read: " + sk.Reason
			all = append(all, x)
			held[x.id] = true
		}
	}
	for i := range known {
		x := &known[i]
		if x.p == nil {
			all = append(all, x)
			if snap.Incremental {
				// Not read: unchanged, unless she is no longer there or her
				// account's end passed, which no change marker shows.
				end, present := snap.Present[x.cur.ext]
				switch {
				case !live(x.cur.status):
					x.untouched = true
				case snap.Present != nil && !present:
					x.disable = ReasonNotFound
				case !end.IsZero() && !now.Before(end):
					x.disable = ReasonExpired
				default:
					x.untouched = true
				}
				continue
			}
			if live(x.cur.status) {
				x.disable = ReasonNotFound
			} else if x.cur.disabledBy == authn.DisabledByAdmin {
				x.alsoDisable = ReasonNotFound
			}
		}
	}
	// Leavers the directory disabled before the grace period are deleted,
	// also those an administrator disabled too (disabled_at stays the
	// directory's in either order: her grace does not restart).
	for _, x := range all {
		if !x.untouched && x.cur != nil && x.cur.status == authn.StatusDisabled &&
			(x.cur.disabledBy == authn.DisabledByDirectory || x.cur.disabledBy == authn.DisabledByAdminAndDirectory) &&
			!x.enable && (x.p == nil || x.p.Inactive(now)) && !x.cur.disabledAt.After(now.Add(-s.dir.GracePeriod)) {
			x.delete = true
		}
	}

	// The mass-change valve: too many leavers at once are held back, those
	// an administrator disabled too among them (disabled by both, they are
	// deleted after the grace period).
	leavers := 0
	for _, x := range all {
		if x.disable != "" || x.delete || x.alsoDisable != "" {
			leavers++
		}
	}
	limit := s.dir.MaxDisableFraction * float64(len(h.people))
	if leavers > 0 && (float64(leavers) > limit || leavers > s.dir.MaxDisableCount) {
		why := fmt.Sprintf("%d of the directory's %d people would be disabled or deleted, more than %g %% or %d",
			leavers, len(h.people), s.dir.MaxDisableFraction*100, s.dir.MaxDisableCount)
		if opts.AllowMassChange {
			s.log.Warn("directory sync: mass change allowed", "reason", why)
			res.HeldBackReason = why + "; allowed"
			return s.finish(ctx, res, all, byName, anyone, snap.Groups, groups, held, true)
		}
		s.log.Error("directory sync: mass change held back; run keyhall sync --allow-mass-change if it is right", "reason", why)
		res.HeldBack, res.HeldBackReason = leavers, why
		for _, x := range all {
			if x.disable != "" || x.delete || x.alsoDisable != "" {
				held[x.id] = true
				x.disable, x.delete, x.alsoDisable = "", false, ""
			}
		}
	}
	return s.finish(ctx, res, all, byName, anyone, snap.Groups, groups, held, false)
}

// mapPerson sets her username after the run and lists the mapped
// attributes of p that differ from what Keyhall holds (for a new person:
// those that are not empty).
func mapPerson(x *personPlan, p *Person, username string) {
	var old attrHashes
	oldName := ""
	if x.cur != nil {
		old, oldName = x.cur.attrs, x.cur.username
	} else {
		old = hashAttrs("", "", "", nil)
	}
	if oldName != username {
		x.fields = append(x.fields, "username")
	}
	now := hashAttrs(p.DisplayName, p.Email, p.Phone, p.PostalAddress)
	for i := range now {
		if now[i] != old[i] {
			x.fields = append(x.fields, attrFields[i])
		}
	}
	x.username = username
}

// finish resolves who may take which username, reconciles the groups and
// builds the changes.
func (s *Syncer) finish(ctx context.Context, res *Result, all []*personPlan, byName map[string]*personPlan,
	byExt func(ext string) *personPlan, read []Group, groups []authn.DirectoryGroup, held map[string]bool, massAllowed bool) plan {
	var pl plan
	pl.massAllowed = massAllowed
	store := s.cfg.Store

	// A username taken by a local person or one of another directory is a
	// conflict: neither is changed.
	var claims []*personPlan
	for _, x := range all {
		if _, ours := byName[x.username]; x.claims() && !ours {
			claims = append(claims, x)
		}
	}
	lookup := func(username string) (authn.User, error) { return store.GetUserByUsername(ctx, username) }
	if len(claims) > 200 { // the first sync of a city: read everybody once
		everybody, err := s.allUsers(ctx)
		if err != nil {
			pl.err = err
			return pl
		}
		lookup = func(username string) (authn.User, error) {
			if u, ok := everybody[username]; ok {
				return u, nil
			}
			return authn.User{}, authn.ErrNotFound
		}
	}
	for _, x := range claims {
		other, err := lookup(x.username)
		switch {
		case errors.Is(err, authn.ErrNotFound):
		case err != nil:
			pl.err = err
			return pl
		case other.Directory != "":
			x.conflict = fmt.Sprintf("the username is held by a person of directory %s", other.Directory)
		default:
			x.conflict = "the username is held by a local person"
		}
	}
	// Among the directory's own people: a name is free if its holder takes
	// another, or leaves (then hers is released). Until nothing changes.
	var release map[string]*personPlan
	for changed := true; changed; {
		changed = false
		release = map[string]*personPlan{}
		claimed := map[string]*personPlan{}
		for _, x := range all {
			if !x.claims() {
				continue
			}
			u := x.username
			if first := claimed[u]; first != nil {
				x.conflict, changed = "the username is read for two people", true
				continue
			}
			claimed[u] = x
			h := byName[u]
			if h == nil || h == x {
				continue
			}
			if h.renames() && h.claims() {
				continue // she lets go of it
			}
			if !h.untouched && h.disabledAfter() && (h.p == nil || h.p.Inactive(s.now())) {
				release[h.id] = h
				continue
			}
			x.conflict, changed = "the username is held by another person of the directory", true
		}
	}

	ch := &pl.ch
	for _, h := range release {
		if !h.renames() || !h.claims() { // she keeps the name but leaves
			ch.Release = append(ch.Release, h.id)
		}
	}
	slices.Sort(ch.Release)
	now := s.now().UTC()
	creates := 0
	for _, x := range all {
		if x.cur == nil && x.conflict == "" {
			creates++
		}
	}
	ch.Create = make([]authn.User, 0, creates) // a first sync creates everybody: no copies while it grows
	res.Created = slices.Grow(res.Created, creates+len(read))
	for _, x := range all {
		c := Change{Kind: kindPerson, Name: x.username, ID: x.id, Fields: x.fields}
		if x.cur != nil {
			c.Name = x.cur.username
		}
		if x.conflict != "" {
			c.Name, c.Reason = x.username, x.conflict
			if x.cur != nil {
				c.OldName = x.cur.username
			}
			c.Fields = nil
			res.Conflicts = append(res.Conflicts, c)
			if x.cur == nil {
				continue // not created
			}
		}
		x.kept = !x.delete
		switch {
		case x.cur == nil:
			c.Fields = nil
			ch.Create = append(ch.Create, x.user(s.dir.Name, now))
			res.Created = append(res.Created, c)
		case x.conflict != "":
		case release[x.id] != nil: // she leaves and lets another have her name
			if len(x.fields) > 0 {
				u := x.user(s.dir.Name, now)
				u.Username = "~" + x.id
				ch.Update = append(ch.Update, u)
				res.Updated = append(res.Updated, c)
			}
		case x.renames():
			c.Name, c.OldName = x.username, x.cur.username
			ch.Update = append(ch.Update, x.user(s.dir.Name, now))
			res.Renamed = append(res.Renamed, c)
		case len(x.fields) > 0:
			ch.Update = append(ch.Update, x.user(s.dir.Name, now))
			res.Updated = append(res.Updated, c)
		}
		name := c.Name
		if x.conflict == "" {
			name = x.username
		} else if x.cur != nil {
			name = x.cur.username
		}
		status := Change{Kind: kindPerson, Name: name, ID: x.id}
		switch {
		case x.disable != "":
			status.Reason = x.disable
			ch.Disable = append(ch.Disable, authn.DirectoryDisable{UserID: x.id, Reason: x.disable})
			res.Disabled = append(res.Disabled, status)
		case x.enable:
			ch.Enable = append(ch.Enable, x.id)
			res.Enabled = append(res.Enabled, status)
		case x.delete:
			ch.Delete = append(ch.Delete, x.id)
			res.Deleted = append(res.Deleted, status)
		case x.alsoDisable != "": // disabled she stays, by both
			status.Reason = x.alsoDisable
			ch.Disable = append(ch.Disable, authn.DirectoryDisable{UserID: x.id, Reason: x.alsoDisable})
			res.AlsoDisabled = append(res.AlsoDisabled, status)
		case x.alsoEnable: // disabled she stays, by the administrator
			ch.Enable = append(ch.Enable, x.id)
			res.AlsoEnabled = append(res.AlsoEnabled, status)
		case x.cur != nil && x.conflict == "" && !x.renames() && len(x.fields) == 0 && !x.untouched:
			res.Unchanged++
		}
	}
	member := func(ext string) (string, bool) {
		if x := byExt(ext); x != nil && x.kept {
			return x.id, true
		}
		return "", false
	}
	if err := s.groups(ctx, res, &pl.ch, member, read, groups, held); err != nil {
		pl.err = err
	}
	return pl
}

// allUsers returns every person Keyhall knows, by username.
func (s *Syncer) allUsers(ctx context.Context) (map[string]authn.User, error) {
	out := map[string]authn.User{}
	after := ""
	for {
		page, err := s.cfg.Store.ListUsers(ctx, authn.UserFilter{After: after, Limit: 5000})
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return out, nil
		}
		for _, u := range page {
			out[u.Username] = u
		}
		after = page[len(page)-1].Username
	}
}

// groups reconciles the mapped groups: created, their members added and
// removed. A group of that name that is local or another directory's is a
// conflict and is left as it is: a directory never takes over a Keyhall
// group (which may be "admins"). A group of the directory that the read no
// longer has (its mapping was removed, or it was deleted) loses its members.
// Members are the people the run keeps (member: ExternalID → id); whoever the
// mass-change valve held back keeps her memberships.
func (s *Syncer) groups(ctx context.Context, res *Result, ch *authn.DirectoryChanges, member func(ext string) (string, bool),
	read []Group, groups []authn.DirectoryGroup, held map[string]bool) error {
	now := s.now().UTC()
	have := make(map[string]*authn.DirectoryGroup, len(groups))
	for i := range groups {
		have[groups[i].Name] = &groups[i]
	}
	seen, seenID := map[string]bool{}, map[string]bool{}
	for _, g := range read {
		gname, err := authn.CanonicalName(g.Name)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("group %s: name %q: %v; it is skipped", g.DN, g.Name, err))
			continue
		}
		if seen[gname] {
			res.Errors = append(res.Errors, fmt.Sprintf("group %s: the name %q is mapped twice; the second is skipped", g.DN, gname))
			continue
		}
		if g.ExternalID != "" && seenID[g.ExternalID] {
			res.Errors = append(res.Errors, fmt.Sprintf("group %s is mapped twice; %q is skipped", g.DN, gname))
			continue
		}
		seen[gname], seenID[g.ExternalID] = true, true
		c := Change{Kind: kindGroup, Name: gname}
		cur := have[gname]
		var current []string
		if cur == nil {
			other, err := s.cfg.Store.GetGroupByName(ctx, gname)
			switch {
			case errors.Is(err, authn.ErrNotFound):
			case err != nil:
				return err
			case other.Directory != "":
				c.ID, c.Reason = other.ID, "a group of directory "+other.Directory+" has this name"
			default:
				c.ID, c.Reason = other.ID, "a local group has this name"
			}
			if c.Reason != "" {
				res.Conflicts = append(res.Conflicts, c)
				continue
			}
			ng := authn.Group{ID: authn.NewID(), ExternalID: g.ExternalID, Name: gname, DisplayName: cmp.Or(g.DisplayName, gname),
				Source: authn.SourceDirectory, Directory: s.dir.Name, CreatedAt: now}
			ch.CreateGroups = append(ch.CreateGroups, ng)
			c.ID = ng.ID
			cur = &authn.DirectoryGroup{Group: ng}
		} else {
			c.ID = cur.ID
			current = cur.Members
			dn := cmp.Or(g.DisplayName, gname)
			if cur.DisplayName != dn {
				c.Fields = append(c.Fields, "display_name")
			}
			if cur.ExternalID != g.ExternalID {
				c.Fields = append(c.Fields, "external_id")
			}
			if len(c.Fields) > 0 {
				ug := cur.Group
				ug.DisplayName, ug.ExternalID = dn, g.ExternalID
				ch.UpdateGroups = append(ch.UpdateGroups, ug)
			}
		}
		var want []string
		for _, ext := range g.Members {
			if id, ok := member(ext); ok {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)
		added, removed := s.members(ch, cur.ID, current, want, held)
		if added+removed > 0 {
			c.Fields = append(c.Fields, "members")
			c.Reason = fmt.Sprintf("+%d −%d members", added, removed)
		}
		switch {
		case have[gname] == nil:
			res.Created = append(res.Created, c)
		case len(c.Fields) > 0:
			res.Updated = append(res.Updated, c)
		}
	}
	for _, g := range groups {
		if seen[g.Name] {
			continue
		}
		if _, removed := s.members(ch, g.ID, g.Members, nil, held); removed > 0 {
			res.Updated = append(res.Updated, Change{Kind: kindGroup, Name: g.Name, ID: g.ID, Fields: []string{"members"},
				Reason: fmt.Sprintf("no longer read: −%d members", removed)})
		}
	}
	return nil
}

// members adds to ch what turns the members current (sorted) into want
// (sorted) and returns how many it adds and removes.
func (s *Syncer) members(ch *authn.DirectoryChanges, groupID string, current, want []string, held map[string]bool) (added, removed int) {
	for _, id := range want {
		if _, found := slices.BinarySearch(current, id); !found {
			ch.AddMembers = append(ch.AddMembers, authn.Membership{GroupID: groupID, UserID: id})
			added++
		}
	}
	for _, id := range current {
		if _, found := slices.BinarySearch(want, id); !found && !held[id] {
			ch.RemoveMembers = append(ch.RemoveMembers, authn.Membership{GroupID: groupID, UserID: id})
			removed++
		}
	}
	return added, removed
}

// found is how many people the directory holds by the read: the people
// read, or, for an incremental read, the people it counted.
func found(snap Snapshot) int {
	if snap.Incremental {
		return snap.Found
	}
	return len(snap.People)
}

// syncMarkers are what the syncer keeps in DirectoryState.Markers.
type syncMarkers struct {
	// FullAt is when the last full run that held nobody back began.
	FullAt time.Time `json:"full_at,omitzero"`
	// Reader are the reader's change markers (Snapshot.Markers).
	Reader string `json:"reader,omitempty"`
}

func decodeSyncMarkers(s string) syncMarkers {
	var m syncMarkers
	if s != "" && json.Unmarshal([]byte(s), &m) != nil {
		return syncMarkers{} // unreadable: the next run is full
	}
	return m
}

func (m syncMarkers) encode() string {
	b, _ := json.Marshal(m)
	return string(b)
}

// read reads the directory: only its changes when opts ask for it and the
// markers allow it (see RunOptions.Incremental), else in full. It also
// returns the directory's people as the Store holds them, listed while the
// directory is read (an incremental read asks whom Keyhall holds only at
// its end). readErr is the read's error (the safety valve's), err the
// Store's.
func (s *Syncer) read(ctx context.Context, res *Result, marks syncMarkers, opts RunOptions) (snap Snapshot, h *stored, readErr, err error, restoreGC func()) {
	restoreGC = func() {}
	readCtx, cancel := context.WithTimeout(ctx, s.dir.SyncDeadline)
	defer cancel()
	type listing struct {
		h   *stored
		err error
	}
	// An incremental run compares the attributes of the people it reads
	// only: it lists the others without theirs.
	cr, canIncr := s.reader.(ChangeReader)
	incr := opts.Incremental && canIncr && !marks.FullAt.IsZero() && s.now().Sub(marks.FullAt) < s.dir.FullInterval
	listed := make(chan listing, 1)
	go func() {
		h, err := s.listStored(ctx, !incr)
		listed <- listing{h: h, err: err}
	}()
	var l *listing // set by wait
	wait := func() *listing {
		if l == nil {
			v := <-listed
			l = &v
		}
		return l
	}
	done := false // read, incrementally or (a ChangeReader's choice) in full
	if opts.Incremental {
		switch {
		case !canIncr:
			res.FullReason = "the reader reads no changes"
		case marks.FullAt.IsZero():
			res.FullReason = "no full sync yet"
		case s.now().Sub(marks.FullAt) >= s.dir.FullInterval:
			res.FullReason = fmt.Sprintf("the last full sync (%s) is older than directory.full_interval (%v)",
				marks.FullAt.Format(time.RFC3339), s.dir.FullInterval)
		default:
			known := func(id string) bool {
				l := wait()
				if l.err != nil {
					return true // the run fails below
				}
				return l.h.known(id)
			}
			snap, readErr = cr.ReadChanges(readCtx, marks.Reader, known)
			if errors.Is(readErr, ErrFullReadNeeded) {
				res.FullReason, readErr = readErr.Error(), nil
				s.log.Info("directory sync: a full sync instead of an incremental one", "reason", res.FullReason)
			} else {
				done = true
				res.Incremental = readErr != nil || snap.Incremental
			}
		}
	}
	if !done {
		restoreGC = lowerGC() // for the rest of the run; see lowerGC
		snap, readErr = s.reader.Read(readCtx)
		snap.Incremental = false
	}
	l = wait()
	if l.err == nil && !l.h.attrs {
		if done {
			l.err = l.h.fillAttrs(ctx, s.cfg.Store, snap.People)
		} else { // a full read after all: compare everybody
			l.h, l.err = s.listStored(ctx, true)
		}
	}
	if l.err != nil {
		return snap, nil, nil, l.err, restoreGC
	}
	return snap, l.h, readErr, nil, restoreGC
}

// fullReadGOGC is the garbage collector's target while a full sync runs:
// it holds the whole directory, what it keeps of Keyhall's people
// (stored.go) and the plan at once (for 50,000 people a live heap of about
// 55–60 MB) while it decodes the LDAP messages and writes the transaction,
// and at Go's default of 100 the heap grows to twice the live one before a
// collection, which took a 50k full sync to 157 MB RSS against a target of
// 150. An incremental sync keeps little and keeps the default.
const fullReadGOGC = 50

var gcLow struct {
	sync.Mutex
	n   int // full reads under way (several directories may sync at once)
	old int // the setting before the first of them
}

// lowerGC sets the collector's target to fullReadGOGC, unless it is lower
// already, until the returned function is called; calls may overlap.
func lowerGC() (restore func()) {
	gcLow.Lock()
	defer gcLow.Unlock()
	if gcLow.n == 0 {
		gcLow.old = debug.SetGCPercent(fullReadGOGC)
		if gcLow.old >= 0 && gcLow.old < fullReadGOGC {
			debug.SetGCPercent(gcLow.old) // an operator's GOGC below it wins
		}
	}
	gcLow.n++
	return sync.OnceFunc(func() {
		gcLow.Lock()
		defer gcLow.Unlock()
		if gcLow.n--; gcLow.n == 0 {
			debug.SetGCPercent(gcLow.old)
		}
	})
}

// live reports whether a person of status may still sign in as far as the
// directory is concerned: active, or frozen (a "this was not me" link; the
// freeze is Keyhall's, so a leaver who is frozen is disabled all the same,
// and keeps her freeze).
func live(status authn.UserStatus) bool {
	return status == authn.StatusActive || status == authn.StatusFrozen
}
