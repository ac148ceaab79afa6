package activity

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/internal/pgarray"
	"github.com/tidingsdev/tidings/internal/tenantfilter"
)

// Retraction says which events to retract, and why.
type Retraction struct {
	// CorrelationID selects every event one request or import recorded.
	CorrelationID string
	// Events selects events by ID (with CorrelationID: both must hold).
	Events []int64
	// Reason says why, for the people reading the history later.
	// Required; at most 1,000 bytes.
	Reason string
	// Action is the action recorded, once per subject whose events were
	// retracted, to say so: a declared action ending in "_retracted"
	// ("import_retracted"). Its extra holds the retracted IDs
	// ("retracted"), the reason and the correlation id.
	Action string
	// Actor retracts (anything Actor accepts); default the context's.
	Actor any
}

// RetractResult is what Retract did.
type RetractResult struct {
	// Retracted are the events marked retracted, as they are now.
	Retracted []Event
	// Recorded are the retraction events, one per subject.
	Recorded []Event
}

// Refs returns the references of the retracted events.
func (r RetractResult) Refs() []EventRef {
	out := make([]EventRef, len(r.Retracted))
	for i, e := range r.Retracted {
		out[i] = e.Ref()
	}
	return out
}

// RetractionExtra is the extra of a retraction event.
type RetractionExtra struct {
	Retracted     []int64 `json:"retracted"`
	Reason        string  `json:"reason"`
	CorrelationID string  `json:"correlation_id,omitempty"`
}

// Retract marks the events r selects as retracted (they stay in the table
// with who, when and why: feeds and history hide them unless asked) and
// records r.Action on each subject they were about, in one transaction (a
// savepoint of db when it is one). Retracting twice retracts nothing more.
//
// Retracted events still waiting in the outbox are dropped from it: they
// never fan out. The retraction events fan out like any event, so
// projections and other inboxes hear of it (package projection reverts or
// rebuilds). Effects already sent (mail, Slack, webhooks) are not undone:
// the inbox package's Delivered lists them.
func (d *Domain) Retract(ctx context.Context, db *gorm.DB, r Retraction) (RetractResult, error) {
	if db == nil {
		return RetractResult{}, ErrNilDB
	}
	bad := func(field, format string, args ...any) error {
		return &OptionError{Option: "Retraction." + field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case r.CorrelationID == "" && len(r.Events) == 0:
		return RetractResult{}, bad("CorrelationID", "and Events are both empty: say which events to retract")
	case len(r.CorrelationID) > 128:
		return RetractResult{}, bad("CorrelationID", "is longer than 128 bytes")
	case strings.TrimSpace(r.Reason) == "":
		return RetractResult{}, bad("Reason", "is empty: say why the events are retracted")
	case len(r.Reason) > 1000 || !utf8.ValidString(r.Reason) || strings.ContainsRune(r.Reason, 0):
		return RetractResult{}, bad("Reason", "must be valid UTF-8 text of at most 1,000 bytes")
	case !strings.HasSuffix(r.Action, "_retracted"):
		return RetractResult{}, bad("Action", "%q does not end in _retracted; declare an action like \"import_retracted\"", r.Action)
	}
	if err := d.CheckAction(r.Action); err != nil {
		return RetractResult{}, err
	}
	actorV := r.Actor
	if actorV == nil {
		a, ok := ActorFrom(ctx)
		if !ok {
			return RetractResult{}, ErrNoActor
		}
		actorV = a
	}
	actor, err := refOf(ctx, db, "actor", actorV)
	if err != nil {
		return RetractResult{}, err
	}
	tenant, all, err := d.readTenant(ctx, nil)
	if err != nil {
		return RetractResult{}, err
	}
	if all && d.Tenanted() { // the retraction events need a tenant
		return RetractResult{}, ErrNoTenant
	}
	var res RetractResult
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		where := []string{"e.retracted_at IS NULL"}
		var args []any
		args = append(args, d.now(), actor.Type+":"+actor.ID, r.Reason)
		if d.Tenanted() && tenantfilter.On {
			where = append(where, "e.tenant_id = ?::"+string(d.tenant))
			args = append(args, tenant)
		}
		if r.CorrelationID != "" {
			where = append(where, "e.correlation_id = ?")
			args = append(args, r.CorrelationID)
		}
		if len(r.Events) > 0 {
			where = append(where, "e.id = ANY(?::bigint[])")
			args = append(args, pgarray.Int8(r.Events))
		}
		rows, err := tx.Raw(`UPDATE `+d.table+` AS e SET retracted_at = ?, retracted_by = ?, retraction_reason = ?
WHERE `+strings.Join(where, " AND ")+` RETURNING `+d.selectCols("e."), args...).Rows()
		if err != nil {
			return fmt.Errorf("activity: retract %s events: %w", d.name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var e Event
			if err := d.scan(rows, &e); err != nil {
				return fmt.Errorf("activity: retract %s events: %w", d.name, err)
			}
			res.Retracted = append(res.Retracted, e)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("activity: retract %s events: %w", d.name, err)
		}
		rows.Close()
		slices.SortFunc(res.Retracted, func(a, b Event) int { return int(a.ID - b.ID) })
		// Retracted events the relay has not handed over yet never fan out.
		if len(res.Retracted) > 0 {
			ids := make(pgarray.Int8, len(res.Retracted))
			for i, e := range res.Retracted {
				ids[i] = e.ID
			}
			if err := tx.Exec(`DELETE FROM `+OutboxTable+` WHERE domain = ? AND event_id = ANY(?::bigint[])`, d.name, ids).Error; err != nil {
				return fmt.Errorf("activity: retract %s events: drop their pending fan-out: %w", d.name, err)
			}
		}
		bySubject := map[string][]int64{}
		var subjects []string
		for _, e := range res.Retracted {
			if bySubject[e.SubjectID] == nil {
				subjects = append(subjects, e.SubjectID)
			}
			bySubject[e.SubjectID] = append(bySubject[e.SubjectID], e.ID)
		}
		slices.SortFunc(subjects, compareKeys)
		for _, s := range subjects {
			rec, err := d.RecordEvent(ctx, tx, s, r.Action, Actor(actor),
				ExtraOf(RetractionExtra{Retracted: bySubject[s], Reason: r.Reason, CorrelationID: r.CorrelationID}))
			if err != nil {
				return err
			}
			res.Recorded = append(res.Recorded, rec.Event)
		}
		return nil
	})
	if err != nil {
		return RetractResult{}, err
	}
	return res, nil
}

// compareKeys orders subject keys numerically when both are integers.
func compareKeys(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}
