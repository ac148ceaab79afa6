package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Projector is the app's code: it folds events into the app's own tables.
type Projector interface {
	// Name identifies the projection: its checkpoint row and its inbox
	// ("projection." + Name). 1-48 of a-z 0-9 _, starting with a letter.
	Name() string
	// Accepts reports whether the projection folds events of this domain
	// and action. Cheap and pure, like Inbox.Accepts.
	Accepts(domain, action string) bool
	// Apply folds one event into the projection's tables through tx. It
	// runs once per event and generation, in the transaction that records
	// it as applied. Events arrive in no particular order (the fan-out
	// keeps none, and a rebuild replays while live events arrive): fold
	// with operations whose order does not matter (counts, maxima, sets),
	// or keep what ordering needs (occurred_at) and compare.
	Apply(ctx context.Context, tx *gorm.DB, ev activity.Event) error
	// Reset empties the projection's tables (or its columns) through tx,
	// at the start of a rebuild.
	Reset(ctx context.Context, tx *gorm.DB) error
}

// Reverter is a Projector that can take one applied event back out, for
// retractions (activity.Domain.Retract). A Projector without Revert is
// rebuilt instead when events it applied are retracted.
type Reverter interface {
	Revert(ctx context.Context, tx *gorm.DB, ev activity.Event) error
}

// Config configures a Projection. Zero fields take the documented defaults.
type Config struct {
	// DB is the app's database: events, projections and the projector's
	// tables. Required.
	DB *gorm.DB
	// Domains are the domains whose events the projection may fold.
	// Required.
	Domains []*activity.Domain
	// Projector is the app's fold. Required.
	Projector Projector
	// BatchSize is how many events one rebuild transaction replays.
	// Default 500.
	BatchSize int
	// Policy is the projection inbox's queue, retries and timeout
	// (inbox defaults).
	Policy inbox.Policy
	// Logger receives rebuild progress. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Projection runs a Projector: it is the inbox that applies live events
// (give it to the worker), and it rebuilds the projector's state from the
// event log. See the package documentation for how it keeps each event
// applied exactly once.
type Projection struct {
	cfg     Config
	p       Projector
	name    string
	domains map[string]*activity.Domain
	dnames  []string
	log     *slog.Logger
	ready   atomic.Bool
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// ErrInvalidConfig is returned (wrapped, naming the field) by New.
var ErrInvalidConfig = errors.New("projection: invalid configuration")

// New checks cfg and returns the projection.
func New(cfg Config) (*Projection, error) {
	bad := func(field, reason string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, reason) }
	switch {
	case cfg.DB == nil:
		return nil, bad("Config.DB", "is nil")
	case cfg.Projector == nil:
		return nil, bad("Config.Projector", "is nil")
	case len(cfg.Domains) == 0:
		return nil, bad("Config.Domains", "is empty: list the domains whose events the projection folds")
	}
	name := cfg.Projector.Name()
	if !nameRE.MatchString(name) {
		return nil, bad("Projector.Name", fmt.Sprintf("%q is not allowed: use 1-48 of a-z 0-9 _, starting with a letter", name))
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pr := &Projection{cfg: cfg, p: cfg.Projector, name: name, domains: map[string]*activity.Domain{}, log: cfg.Logger}
	for i, d := range cfg.Domains {
		if d == nil {
			return nil, bad(fmt.Sprintf("Config.Domains[%d]", i), "is nil")
		}
		pr.domains[d.Name()] = d
		pr.dnames = append(pr.dnames, d.Name())
	}
	sort.Strings(pr.dnames)
	return pr, nil
}

// Name is the projection inbox's name: "projection." + the projector's.
func (pr *Projection) Name() string { return "projection." + pr.name }

// Policy is the inbox's policy (Config.Policy).
func (pr *Projection) Policy() inbox.Policy { return pr.cfg.Policy }

// Accepts takes what the projector folds, and the retractions
// ("*_retracted" actions) of its domains.
func (pr *Projection) Accepts(domain, action string) bool {
	if pr.domains[domain] == nil {
		return false
	}
	return strings.HasSuffix(action, "_retracted") || pr.p.Accepts(domain, action)
}

// Process applies a live event once, or takes back the events a
// retraction event names.
func (pr *Projection) Process(ctx context.Context, d *inbox.Delivery) error {
	ev := d.Event
	if ids, ok := retracted(ev); ok {
		return pr.revert(ctx, ev, ids)
	}
	if !pr.p.Accepts(ev.Domain, ev.Action) {
		return nil
	}
	dom := pr.domains[ev.Domain]
	if dom == nil {
		return inbox.Permanent(fmt.Errorf("projection %s: domain %q is not among its Domains", pr.name, ev.Domain))
	}
	if err := pr.ensure(ctx); err != nil {
		return err
	}
	return pr.cfg.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The shared lock orders this against rebuilds and reverts (FOR
		// UPDATE). The retraction check is its own statement, after the
		// lock: at READ COMMITTED it sees every retraction committed
		// before a revert could take the lock.
		var gen []int64
		if err := tx.Raw(`SELECT generation FROM projections WHERE name = ? FOR SHARE`, pr.name).Scan(&gen).Error; err != nil {
			return fmt.Errorf("projection %s: lock: %w", pr.name, err)
		}
		if len(gen) == 0 {
			return fmt.Errorf("projection %s: its row is missing", pr.name)
		}
		res := tx.Exec(`INSERT INTO projection_applied (name, generation, domain, event_id)
SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM `+dom.Table()+` WHERE id = ? AND retracted_at IS NULL)
ON CONFLICT DO NOTHING`, pr.name, gen[0], ev.Domain, ev.ID, ev.ID)
		if res.Error != nil {
			return fmt.Errorf("projection %s: record %s: %w", pr.name, ev.Ref(), res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // applied before in this generation, retracted, or deleted
		}
		return pr.p.Apply(ctx, tx, ev)
	})
}

// retracted returns the IDs a retraction event (activity.Retract) names.
func retracted(ev activity.Event) ([]int64, bool) {
	if !strings.HasSuffix(ev.Action, "_retracted") {
		return nil, false
	}
	var x activity.RetractionExtra
	if err := json.Unmarshal(ev.Extra, &x); err != nil || len(x.Retracted) == 0 {
		return nil, false
	}
	return x.Retracted, true
}

// ensure creates the projection's row the first time.
func (pr *Projection) ensure(ctx context.Context) error {
	if pr.ready.Load() {
		return nil
	}
	if err := pr.cfg.DB.WithContext(ctx).Exec(`INSERT INTO projections (name, updated_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, pr.name, pr.cfg.Now()).Error; err != nil {
		return fmt.Errorf("projection %s: create its row: %w", pr.name, err)
	}
	pr.ready.Store(true)
	return nil
}

// revert takes the retracted events out of the current generation: under
// the exclusive lock, every application that could have missed the
// retraction has committed, and every later one sees it.
func (pr *Projection) revert(ctx context.Context, retraction activity.Event, ids []int64) error {
	domain := retraction.Domain
	dom := pr.domains[domain]
	if dom == nil {
		return nil
	}
	if err := pr.ensure(ctx); err != nil {
		return err
	}
	rev, canRevert := pr.p.(Reverter)
	needRebuild := false
	err := pr.cfg.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var gen []int64
		if err := tx.Raw(`SELECT generation FROM projections WHERE name = ? FOR UPDATE`, pr.name).Scan(&gen).Error; err != nil {
			return fmt.Errorf("projection %s: lock: %w", pr.name, err)
		}
		// Only the retraction's own tenant's events are its to take back:
		// its extra names ids, and one of another tenant's events (a
		// recorded "_retracted" event whose extra an app filled, a wrong
		// id) stays applied.
		named, err := dom.EventsByID(activity.AcrossTenants(ctx), tx, ids)
		if err != nil {
			return err
		}
		ids = slices.DeleteFunc(slices.Clone(ids), func(id int64) bool {
			ev, ok := named[id]
			return !ok || ev.TenantID != retraction.TenantID
		})
		if len(ids) == 0 {
			return nil
		}
		var gone []int64
		if err := tx.Raw(`DELETE FROM projection_applied WHERE name = ? AND generation = ? AND domain = ? AND event_id = ANY(?::bigint[]) RETURNING event_id`,
			pr.name, gen[0], domain, pgarray.Int8(ids)).Scan(&gone).Error; err != nil {
			return fmt.Errorf("projection %s: revert: %w", pr.name, err)
		}
		if len(gone) == 0 {
			return nil
		}
		if !canRevert {
			needRebuild = true
			return errRollback
		}
		slices.Sort(gone)
		for _, id := range gone {
			if ev, ok := named[id]; ok {
				if err := rev.Revert(ctx, tx, ev); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	if err != nil || !needRebuild {
		return err
	}
	pr.log.LogAttrs(ctx, slog.LevelInfo, "projection: events it applied were retracted and it cannot revert them; rebuilding", slog.String("projection", pr.name))
	return pr.Rebuild(ctx)
}

var errRollback = errors.New("projection: rollback")
