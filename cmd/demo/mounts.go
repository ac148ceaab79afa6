package main

import (
	"context"
	"net/http"
	"strconv"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/eventbrowser"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/web/notifycenter"
	"github.com/tidingsdev/tidings/web/preferences"
)

// Where the demo mounts the library's web parts.
const (
	eventsPrefix = "/admin/events"
	centerPrefix = "/api/notifications"
	prefsPrefix  = "/settings/notifications"
)

// notificationDefaults are the demo's choices before anyone chooses:
// label mail is off until a person turns it on; being assigned an issue is
// critical (nobody can mute it, in the app or by mail).
func notificationDefaults() *inbox.Defaults {
	return &inbox.Defaults{
		Off:      []inbox.Kind{{Channel: inbox.ChannelEmail, Domain: "issue", Action: ActionLabelAdded}},
		Critical: []inbox.Kind{{Channel: inbox.AnyChannel, Domain: "issue", Action: ActionAssigned}},
	}
}

// signedIn reports whether the request carries a user cookie naming a
// user (the demo has no passwords; a request without a session is
// refused the person data pages).
func (a *App) signedIn(r *http.Request) bool {
	c, err := r.Cookie(userCookie)
	if err != nil {
		return false
	}
	id, err := strconv.ParseInt(c.Value, 10, 64)
	if err != nil {
		return false
	}
	var n int64
	return a.db.WithContext(r.Context()).Model(&User{}).Where("id = ?", id).Count(&n).Error == nil && n == 1
}

// mountWebParts makes the event browser, the notification center and the
// preference page.
func (a *App) mountWebParts() error {
	var err error
	a.browser, err = eventbrowser.New(eventbrowser.Config{
		DB: a.db, Domains: []*activity.Domain{a.issues}, Prefix: eventsPrefix,
		Identity: a.identity, Theme: web.Theme{Layout: a.layout("events")}, Words: web.Words{Catalog: a.fan.catalog},
		Feed: a.feedr, Rules: a.rules,
		RuleHref: func(id int64) string { return "/rules/" + strconv.FormatInt(id, 10) },
		Subjects: func(ctx context.Context, _ string, ids []string) (map[string]eventbrowser.Subject, error) {
			titles, err := a.titlesOf(ctx, parseIDs(ids))
			out := make(map[string]eventbrowser.Subject, len(titles))
			for id, t := range titles {
				out[id] = eventbrowser.Subject{Label: t, Href: "/issues/" + id}
			}
			return out, err
		},
		Now: a.cfg.Now, Logger: a.fan.logger,
	})
	if err != nil {
		return err
	}
	a.center, err = notifycenter.New(notifycenter.Config{
		DB: a.db, Redis: a.redis, Prefix: centerPrefix, Identity: a.identity,
		Describe: a.describeNotifications, Logger: a.fan.logger, StreamOpened: a.tel.metrics.PushConnected,
		RequireTenant: a.issues.Tenanted(), // every notification is an organisation's
	})
	if err != nil {
		return err
	}
	var topics []preferences.Topic
	for _, act := range feedActions(a.issues) {
		topics = append(topics, preferences.Topic{Domain: a.issues.Name(), Action: act, Label: topicLabels[act]})
	}
	a.prefs, err = preferences.New(preferences.Config{
		DB: a.db, Topics: topics, Defaults: a.defaults, Prefix: prefsPrefix, Home: "/notifications",
		Identity: a.identity, Theme: web.Theme{Layout: a.layout("notifications")}, Words: web.Words{Catalog: a.fan.catalog},
		Domains:  []*activity.Domain{a.issues},
		Channels: []preferences.Channel{{Name: inbox.ChannelApp}, {Name: inbox.ChannelEmail}}, // the demo's in-app and email inboxes
		Subjects: func(ctx context.Context, _ string, ids []string) (map[string]string, error) {
			return a.titlesOf(ctx, parseIDs(ids))
		},
		Logger: a.fan.logger,
		// Each person picks, per channel, each event at once or a digest
		// at 08:00 their time (in the app: one row per burst until then).
		Deliveries: []preferences.DeliveryOption{{Label: "Immediately", Choice: inbox.ImmediateChoice}, {Label: "Daily digest at 08:00", Choice: dailyDigest}},
	})
	return err
}

var topicLabels = map[string]string{
	ActionIssueOpened: "New issues", ActionCommentAdded: "Comments", ActionCommentDeleted: "Deleted comments",
	ActionLabelAdded: "Labels added", ActionLabelRemoved: "Labels removed", ActionAssigned: "Assignments",
	ActionStatusChanged: "Status changes", ActionIssueClosed: "Closed issues", ActionNoActivity: "Issues gone quiet",
}

func parseIDs(ids []string) []int64 {
	out := make([]int64, 0, len(ids))
	for _, s := range ids {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// describeNotifications gives the center's items a sentence and a link.
func (a *App) describeNotifications(ctx context.Context, ns []notify.Notification) ([]notifycenter.Description, error) {
	lines, err := a.notificationLines(ctx, ns)
	if err != nil {
		return nil, err
	}
	out := make([]notifycenter.Description, len(lines))
	for i, l := range lines {
		text := l.ActorName + " " + l.Verb
		if l.Object != "" {
			text += " " + l.Object
		}
		if l.Subject != "" {
			text += " on " + l.Subject
		}
		out[i] = notifycenter.Description{Text: text, URL: "/issues/" + l.SubjectID}
	}
	return out, nil
}

// notificationLines renders notifications as feed lines, with their
// issues' titles.
func (a *App) notificationLines(ctx context.Context, ns []notify.Notification) ([]feedview.Line, error) {
	ids := make([]int64, 0, len(ns))
	for _, n := range ns {
		if id, err := strconv.ParseInt(n.SubjectID, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	titles, err := a.titlesOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]feedview.Line, len(ns))
	for i, n := range ns {
		ev := activity.Event{ID: n.Event.ID, Domain: n.Event.Domain, SubjectID: n.SubjectID, Action: n.Action,
			ActorType: n.Actor.Type, ActorID: n.Actor.ID, ActorLabel: n.Actor.Label, OccurredAt: n.OccurredAt, Extra: []byte("{}")}
		if n.Record != nil {
			ev.RecordType, ev.RecordID, ev.RecordLabel = &n.Record.Type, &n.Record.ID, &n.Record.Label
		}
		l := a.feedr.Line(activity.Entry{Event: ev}, titles)
		l.Deleted = false
		out[i] = l
	}
	return out, nil
}
