package privacy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
)

// ErrInvalidConfig matches a Config that cannot work.
var ErrInvalidConfig = errors.New("privacy: invalid configuration")

// Part erases and exports the person's data in tables the app owns
// (projections' tables, the app's own copies), so one Erase covers them
// too, in the same transaction.
type Part struct {
	// Name names the part in counts and errors ("issue_stats"). Required.
	Name string
	// Erase removes or masks p's data; it returns rows changed per table.
	// p.Values holds every personal string the library found. Optional.
	Erase func(ctx context.Context, db *gorm.DB, p activity.Person) (activity.Erased, error)
	// Export writes p's data: each call of emit is one JSON line. Optional.
	Export func(ctx context.Context, db *gorm.DB, p activity.Person, emit func(v any) error) error
}

// Config configures a Privacy.
type Config struct {
	// Domains are every domain whose events may name the person. Required.
	Domains []*activity.Domain
	// Parts are the app's own tables to erase and export with the
	// library's. Optional.
	Parts []Part
	// Batch is how many rows one query of an export reads. Default
	// activity.DefaultExportBatch (1000).
	Batch int
	// Now is the clock of erasure records. Default time.Now.
	Now func() time.Time
	// PersonsAcrossTenants says the app's person ids are global: "users:9"
	// is the same person in every tenant (one account that joins several
	// organisations). Erase and Export then reach the person's rows in
	// every tenant, whatever tenant the context carries. Default false: a
	// person is an identity within a tenant (per-tenant user tables, or
	// ids that mean nothing outside their tenant), and Erase and Export
	// reach only the context's tenant, refusing a context without one
	// (activity.ErrNoTenant) when a domain is tenanted. See the package
	// documentation's Tenants for which to pick.
	PersonsAcrossTenants bool
}

// Privacy erases and exports one person's data across every table of the
// library (and the app's Parts). It is safe for concurrent use.
type Privacy struct {
	cfg      Config
	tenanted []*activity.Domain // the tenanted domains of cfg.Domains
}

// New checks cfg and returns a Privacy.
func New(cfg Config) (*Privacy, error) {
	if len(cfg.Domains) == 0 {
		return nil, fmt.Errorf("%w: Config.Domains is empty; list every domain whose events may name a person", ErrInvalidConfig)
	}
	seen := map[string]bool{}
	var tenanted []*activity.Domain
	untenanted := ""
	for i, d := range cfg.Domains {
		if d == nil {
			return nil, fmt.Errorf("%w: Config.Domains[%d] is nil", ErrInvalidConfig, i)
		}
		if seen[d.Name()] {
			return nil, fmt.Errorf("%w: Config.Domains lists domain %q twice", ErrInvalidConfig, d.Name())
		}
		seen[d.Name()] = true
		if d.Tenanted() {
			tenanted = append(tenanted, d)
		} else if untenanted == "" {
			untenanted = d.Name()
		}
	}
	if len(tenanted) > 0 && untenanted != "" && !cfg.PersonsAcrossTenants {
		// An untenanted domain's "users:9" is every tenant's user 9: with
		// per-tenant person ids, erasing one would rewrite the others'.
		return nil, fmt.Errorf("%w: Config.Domains mixes tenanted (%s) and untenanted (%s) domains: a person either belongs to a tenant (make every domain that names people tenanted) or their ids are global across tenants (set Config.PersonsAcrossTenants)",
			ErrInvalidConfig, tenanted[0].Name(), untenanted)
	}
	for i, p := range cfg.Parts {
		if p.Name == "" {
			return nil, fmt.Errorf("%w: Config.Parts[%d] has no Name", ErrInvalidConfig, i)
		}
		if p.Erase == nil && p.Export == nil {
			return nil, fmt.Errorf("%w: Config.Parts[%d] (%s) has neither Erase nor Export", ErrInvalidConfig, i, p.Name)
		}
	}
	if cfg.Batch < 0 {
		return nil, fmt.Errorf("%w: Config.Batch is negative", ErrInvalidConfig)
	}
	if cfg.Batch == 0 {
		cfg.Batch = activity.DefaultExportBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Privacy{cfg: cfg, tenanted: tenanted}, nil
}

func (x *Privacy) domain(name string) *activity.Domain {
	for _, d := range x.cfg.Domains {
		if d.Name() == name {
			return d
		}
	}
	return nil
}
