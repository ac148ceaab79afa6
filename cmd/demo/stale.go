package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// staleActor records no_activity events.
var staleActor = activity.System("system")

// recordStale records no_activity on each open issue whose last activity
// (any event but views and no_activity itself) is older than StaleAfter,
// once per quiet stretch: an issue that stays quiet keeps its one
// no_activity event, where and when it was recorded (it does not jump to
// the top of feeds at each poll). It runs every StaleEvery; a throttle over
// twice that keeps two demos polling at once to one event. It returns how
// many new events it recorded.
func (a *App) recordStale(ctx context.Context) (int, error) {
	now := a.cfg.Now()
	ctx = activity.WithMetadata(ctx, activity.Metadata{Source: "job", RequestID: fmt.Sprintf("no-activity-%d", now.Unix())})
	var open []Issue
	if err := a.db.WithContext(ctx).Where("status <> ?", StatusClosed).Order("id").Find(&open).Error; err != nil {
		return 0, err
	}
	var active []string
	for _, act := range a.issues.Actions() {
		if !quietActions[act] && act != ActionNoActivity {
			active = append(active, act)
		}
	}
	n := 0
	base := ctx
	for _, is := range open {
		ctx := activity.WithTenant(base, is.OrgID) // the job serves every organisation, one issue at a time
		last, ok, err := a.issues.LastOccurred(ctx, a.db, activity.HistoryQuery{Subject: is.ID, Actions: active})
		if err != nil {
			return n, err
		}
		if !ok {
			last = is.CreatedAt
		}
		if now.Sub(last) < a.cfg.StaleAfter {
			continue
		}
		// Told already: a no_activity event since the last activity stays
		// where it was (it does not move to the top with each poll).
		told, ok, err := a.issues.LastOccurred(ctx, a.db, activity.HistoryQuery{Subject: is.ID, Actions: []string{ActionNoActivity}})
		if err != nil {
			return n, err
		}
		if ok && !told.Before(last) {
			continue
		}
		res, err := a.issues.RecordEvent(ctx, a.db, is.ID, ActionNoActivity, activity.Actor(staleActor),
			activity.ThrottleWithin(2*a.cfg.StaleEvery),
			activity.Extra{"since": last.UTC().Format(time.RFC3339), "after": a.cfg.StaleAfter.String()})
		if err != nil {
			return n, err
		}
		if !res.Throttled {
			n++
		}
	}
	return n, nil
}
