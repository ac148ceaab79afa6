package privacy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// Line kinds of an export (the "type" of each JSON line).
const (
	LinePerson       = "person"       // first line: whose data, when
	LineEvent        = "event"        // an event, with the person's role in it
	LineNotification = "notification" // one of the person's notifications
	LinePreference   = "preference"   // one of the person's notification preferences
	LineDelivery     = "delivery"     // one of the person's delivery choices (immediate, or a batching schedule)
	LinePart         = "part"         // a line of an app's Part
	LineEnd          = "end"          // last line: counts; an export without it is incomplete
)

// Line is one JSON line of an export.
type Line struct {
	Type         string               `json:"type"`
	Person       *activity.Ref        `json:"person,omitempty"`
	ExportedAt   *time.Time           `json:"exported_at,omitempty"`
	Role         string               `json:"role,omitempty"`
	Event        *activity.Event      `json:"event,omitempty"`
	Notification *notify.Notification `json:"notification,omitempty"`
	Preference   *inbox.Preference    `json:"preference,omitempty"`
	Delivery     *inbox.StoredChoice  `json:"delivery,omitempty"`
	Part         string               `json:"part,omitempty"`
	Data         any                  `json:"data,omitempty"`
	Counts       map[string]int64     `json:"counts,omitempty"`
}

// Export writes p's data to w as JSON lines (application/x-ndjson): a
// person line; every event where p is the actor, the record, the subject
// (activity.Domain.PersonEvents) or a recipient (notified of it), each
// once, with p's role; p's notifications; p's notification preferences
// and delivery choices (inbox.StoredChoices: immediate, or a batching
// schedule); the lines of the app's Parts; and an end line with the
// counts, so a reader knows the export is complete.
//
// It streams: rows are read Config.Batch at a time by keyset pagination
// and written through a 64 KiB buffer, so memory stays flat however many
// events p has (measured in cmd/bench, group export). Each batch is its
// own snapshot (see PersonEvents).
func (x *Privacy) Export(ctx context.Context, db *gorm.DB, p activity.Person, w io.Writer) error {
	if db == nil {
		return activity.ErrNilDB
	}
	if err := p.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	counts := map[string]int64{}
	emit := func(l Line) error {
		counts[l.Type]++
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("privacy: export %s: write: %w", p.Ref(), err)
		}
		return nil
	}
	ref := p.Ref()
	now := x.cfg.Now().UTC()
	if err := emit(Line{Type: LinePerson, Person: &ref, ExportedAt: &now}); err != nil {
		return err
	}
	for _, d := range x.cfg.Domains {
		err := d.PersonEvents(ctx, db, p, x.cfg.Batch, func(role string, e activity.Event) error {
			return emit(Line{Type: LineEvent, Role: role, Event: &e})
		})
		if err != nil {
			return err
		}
	}
	if err := x.exportRecipientEvents(ctx, db, p, emit); err != nil {
		return err
	}
	err := notify.EachOf(ctx, db, p.ID, x.cfg.Batch, func(n notify.Notification) error {
		return emit(Line{Type: LineNotification, Notification: &n})
	})
	if err != nil {
		return err
	}
	prefs, err := inbox.Preferences(ctx, db, p.ID)
	if err != nil {
		return err
	}
	for i := range prefs {
		if err := emit(Line{Type: LinePreference, Preference: &prefs[i]}); err != nil {
			return err
		}
	}
	choices, err := inbox.StoredChoices(ctx, db, p.ID)
	if err != nil {
		return err
	}
	for i := range choices {
		if err := emit(Line{Type: LineDelivery, Delivery: &choices[i]}); err != nil {
			return err
		}
	}
	for _, part := range x.cfg.Parts {
		if part.Export == nil {
			continue
		}
		err := part.Export(ctx, db, p, func(v any) error { return emit(Line{Type: LinePart, Part: part.Name, Data: v}) })
		if err != nil {
			return fmt.Errorf("privacy: export part %s: %w", part.Name, err)
		}
	}
	if err := emit(Line{Type: LineEnd, Counts: counts}); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("privacy: export %s: write: %w", p.Ref(), err)
	}
	return nil
}

// exportRecipientEvents writes the events p was notified of and takes no
// other part in, a batch of notifications at a time, loading each batch's
// events with one query per domain.
func (x *Privacy) exportRecipientEvents(ctx context.Context, db *gorm.DB, p activity.Person, emit func(Line) error) error {
	batch := make([]activity.EventRef, 0, x.cfg.Batch)
	flush := func() error {
		byDomain := map[string][]int64{}
		for _, r := range batch {
			byDomain[r.Domain] = append(byDomain[r.Domain], r.ID)
		}
		for _, r := range batch {
			ids, ok := byDomain[r.Domain]
			if !ok {
				continue // done
			}
			delete(byDomain, r.Domain)
			d := x.domain(r.Domain)
			if d == nil {
				continue // a domain the app did not list: nothing to load it with
			}
			evs, err := d.EventsByID(ctx, db, ids)
			if err != nil {
				return err
			}
			for _, id := range ids {
				e, ok := evs[id]
				if !ok || d.RoleOf(e, p) != "" {
					continue // gone, or already exported with its own role
				}
				if err := emit(Line{Type: LineEvent, Role: activity.RoleRecipient, Event: &e}); err != nil {
					return err
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	err := notify.EachOf(ctx, db, p.ID, x.cfg.Batch, func(n notify.Notification) error {
		batch = append(batch, n.Event)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
