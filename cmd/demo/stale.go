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
// (any event but views and no_activity itself) is older than StaleAfter. It
// runs every StaleEvery; repeats are throttled over twice that, so an issue
// that stays quiet keeps one no_activity event whose repeat count grows,
// and fans out once, even with several demos polling. It returns how many
// new events it recorded.
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
	for _, is := range open {
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
