package privacy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// Export writes p's data to w as JSON lines (application/x-ndjson), every
// shape in snake_case: a person line (with their label when an event
// names them, and their tenant); every event where p is the actor, the
// record, the subject (activity.Domain.PersonEvents) or a recipient
// (notified of it), each once, with p's role; p's notifications; p's
// notification preferences (inbox.StoredPreferences) and delivery choices
// (inbox.StoredChoices: immediate, or a batching schedule); the addresses
// they are reached at outside the app (device.PersonAddresses: web push
// subscriptions without their auth secret, mobile push tokens, phone
// numbers); the lines of
// the app's Parts; and an end line with the counts, so a reader knows the
// export is complete.
//
// It holds p and no one else: a person is an identity within a tenant, so
// with a tenanted domain only the context's tenant's rows are read
// (activity.ErrNoTenant without a tenant; every tenant under
// Config.PersonsAcrossTenants), and in each event and notification the
// personal fields of anyone else are masked with erasure's rules
// (activity.Domain.ForPerson: other actors' labels, IP addresses and user
// agents, other records' labels, personal paths of extra that are not
// among p.Values). Pass p with the values the app knows (as for Erase), so
// their own address at a personal path of an event about them stays.
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
	sc, err := x.scope(ctx)
	if err != nil {
		return err
	}
	ctx = sc.ctx
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
	label, err := x.label(ctx, db, p)
	if err != nil {
		return err
	}
	now := x.cfg.Now().UTC()
	person := PersonLine{Type: p.Type, ID: p.ID, Label: label, Tenant: sc.tenant, AcrossTenants: sc.across}
	if err := emit(Line{Type: LinePerson, Person: &person, ExportedAt: &now}); err != nil {
		return err
	}
	for _, d := range x.cfg.Domains {
		err := d.PersonEvents(ctx, db, p, x.cfg.Batch, func(role string, e activity.Event) error {
			e = d.ForPerson(e, p)
			return emit(Line{Type: LineEvent, Role: role, Event: &e})
		})
		if err != nil {
			return err
		}
	}
	if err := x.exportRecipientEvents(ctx, db, p, emit); err != nil {
		return err
	}
	err = notify.EachOf(ctx, db, p.ID, x.cfg.Batch, func(n notify.Notification) error {
		l := notificationFor(n, p)
		return emit(Line{Type: LineNotification, Notification: &l})
	})
	if err != nil {
		return err
	}
	prefs, err := inbox.StoredPreferences(ctx, db, p.ID)
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
	addrs, err := device.PersonAddresses(ctx, db, p.ID)
	if err != nil {
		return err
	}
	for i := range addrs {
		// A web push subscription's auth secret is a credential (with the
		// endpoint and the public key, anyone could push to that browser),
		// not data about the person: it stays out of the file.
		addrs[i].Auth = ""
		if err := emit(Line{Type: LineDevice, Device: &addrs[i]}); err != nil {
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
// other part in (in the scope ctx carries, as the notifications), a batch of notifications at a time, loading each batch's
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
				e = d.ForPerson(e, p)
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

// errFound stops a walk once it found what it looked for.
var errFound = errors.New("found")

// label returns how p's newest event names them, as its actor (else as its
// record), across the domains; "" when none does, or only as an erased
// person.
func (x *Privacy) label(ctx context.Context, db *gorm.DB, p activity.Person) (string, error) {
	var label string
	var at time.Time
	for _, d := range x.cfg.Domains {
		// The walk gives p's newest act first, else their first event as a
		// record: one row.
		err := d.PersonEvents(ctx, db, p, 1, func(role string, e activity.Event) error {
			l := ""
			switch {
			case role == activity.RoleActor:
				l = e.ActorLabel
			case role == activity.RoleRecord && e.RecordLabel != nil:
				l = *e.RecordLabel
			}
			if l != "" && l != activity.ErasedLabel && (label == "" || e.OccurredAt.After(at)) {
				label, at = l, e.OccurredAt
			}
			return errFound
		})
		if err != nil && !errors.Is(err, errFound) {
			return "", err
		}
	}
	return label, nil
}
