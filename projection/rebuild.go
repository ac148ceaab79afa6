package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Status is a projection's checkpoint row.
type Status struct {
	Name       string
	Generation int64
	// Rebuilding is true from Rebuild's reset until its replay caught up;
	// live events are applied meanwhile too.
	Rebuilding bool
	// Position is the replay's checkpoint: the last event ID replayed,
	// per domain.
	Position  map[string]int64
	Replayed  int64 // events the current rebuild replayed
	Rebuilds  int
	RebuiltAt *time.Time
	UpdatedAt time.Time
}

// Status reads the projection's checkpoint (the zero Status, Generation
// 0, before it ever ran).
func (pr *Projection) Status(ctx context.Context) (Status, error) {
	var row struct {
		Generation int64
		Status     string
		Position   []byte
		Replayed   int64
		Rebuilds   int
		RebuiltAt  *time.Time
		UpdatedAt  time.Time
	}
	res := pr.cfg.DB.WithContext(ctx).Raw(`SELECT generation, status, position, replayed, rebuilds, rebuilt_at, updated_at FROM projections WHERE name = ?`, pr.name).Scan(&row)
	if res.Error != nil {
		return Status{}, fmt.Errorf("projection %s: status: %w", pr.name, res.Error)
	}
	s := Status{Name: pr.name, Generation: row.Generation, Rebuilding: row.Status == "rebuilding", Replayed: row.Replayed,
		Rebuilds: row.Rebuilds, RebuiltAt: row.RebuiltAt, UpdatedAt: row.UpdatedAt, Position: map[string]int64{}}
	if len(row.Position) > 0 {
		if err := json.Unmarshal(row.Position, &s.Position); err != nil {
			return Status{}, fmt.Errorf("projection %s: position: %w", pr.name, err)
		}
	}
	return s, nil
}

// Rebuild empties the projection and folds every event of its domains
// again, while live events keep being applied: it takes the projection's
// lock (waiting for live applications in flight), calls Reset, moves to a
// new generation, and replays the log in ID order, a batch per
// transaction, from a checkpoint stored with each batch. Live deliveries
// apply into the new generation at once; an event both replayed and
// delivered live is applied once, whichever comes first, because both
// record it in projection_applied under the generation. When the replay
// has read the whole log the projection is live again.
//
// If the process dies mid-way, Resume (or Rebuild again, from scratch)
// goes on from the checkpoint.
func (pr *Projection) Rebuild(ctx context.Context) error {
	if err := pr.ensure(ctx); err != nil {
		return err
	}
	err := pr.cfg.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var gen []int64
		if err := tx.Raw(`SELECT generation FROM projections WHERE name = ? FOR UPDATE`, pr.name).Scan(&gen).Error; err != nil {
			return err
		}
		if err := pr.p.Reset(ctx, tx); err != nil {
			return fmt.Errorf("projection %s: reset: %w", pr.name, err)
		}
		if err := tx.Exec(`DELETE FROM projection_applied WHERE name = ?`, pr.name).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE projections SET generation = generation + 1, status = 'rebuilding', position = '{}', replayed = 0,
    rebuilds = rebuilds + 1, updated_at = ? WHERE name = ?`, pr.cfg.Now(), pr.name).Error
	})
	if err != nil {
		return fmt.Errorf("projection %s: rebuild: %w", pr.name, err)
	}
	pr.log.LogAttrs(ctx, slog.LevelInfo, "projection: rebuilding", slog.String("projection", pr.name))
	return pr.Resume(ctx)
}

// Resume continues an unfinished rebuild from its checkpoint; it does
// nothing for a live projection.
func (pr *Projection) Resume(ctx context.Context) error {
	for {
		done, err := pr.replayBatch(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// replayBatch replays one batch under the exclusive lock (live
// applications wait for it: a batch is short) and moves the checkpoint.
func (pr *Projection) replayBatch(ctx context.Context) (done bool, err error) {
	err = pr.cfg.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var row []struct {
			Generation int64
			Status     string
			Position   []byte
			Replayed   int64
		}
		if err := tx.Raw(`SELECT generation, status, position, replayed FROM projections WHERE name = ? FOR UPDATE`, pr.name).Scan(&row).Error; err != nil {
			return err
		}
		if len(row) == 0 || row[0].Status != "rebuilding" {
			done = true
			return nil
		}
		pos := map[string]int64{}
		if err := json.Unmarshal(row[0].Position, &pos); err != nil {
			return err
		}
		for _, name := range pr.dnames {
			if pos[name] < 0 {
				continue // this domain is replayed
			}
			d := pr.domains[name]
			evs, err := d.EventsAfter(activity.AcrossTenants(ctx), tx, activity.HistoryQuery{}, pos[name], pr.cfg.BatchSize)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				pos[name] = -1
				continue
			}
			n, err := pr.applyBatch(ctx, tx, row[0].Generation, d, evs)
			if err != nil {
				return err
			}
			pos[name] = evs[len(evs)-1].ID
			b, _ := json.Marshal(pos)
			return tx.Exec(`UPDATE projections SET position = ?::jsonb, replayed = replayed + ?, updated_at = ? WHERE name = ?`,
				string(b), n, pr.cfg.Now(), pr.name).Error
		}
		done = true
		now := pr.cfg.Now()
		b, _ := json.Marshal(pos)
		return tx.Exec(`UPDATE projections SET status = 'live', position = ?::jsonb, rebuilt_at = ?, updated_at = ? WHERE name = ?`, string(b), now, now, pr.name).Error
	})
	if err != nil {
		return false, fmt.Errorf("projection %s: replay: %w", pr.name, err)
	}
	return done, nil
}

// applyBatch records the batch's accepted events as applied (those a live
// delivery did not apply first) and applies them.
func (pr *Projection) applyBatch(ctx context.Context, tx *gorm.DB, gen int64, d *activity.Domain, evs []activity.Event) (int, error) {
	var ids []int64
	byID := map[int64]activity.Event{}
	for _, ev := range evs {
		if _, isRetraction := retracted(ev); isRetraction || !pr.p.Accepts(ev.Domain, ev.Action) {
			continue
		}
		ids = append(ids, ev.ID)
		byID[ev.ID] = ev
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var fresh []int64
	if err := tx.Raw(`INSERT INTO projection_applied (name, generation, domain, event_id)
SELECT ?, ?, ?, id FROM unnest(?::bigint[]) AS id ORDER BY id
ON CONFLICT DO NOTHING RETURNING event_id`, pr.name, gen, d.Name(), pgarray.Int8(ids)).Scan(&fresh).Error; err != nil {
		return 0, err
	}
	applied := map[int64]bool{}
	for _, id := range fresh {
		applied[id] = true
	}
	for _, id := range ids {
		if applied[id] {
			if err := pr.p.Apply(ctx, tx, byID[id]); err != nil {
				return 0, err
			}
		}
	}
	return len(fresh), nil
}
