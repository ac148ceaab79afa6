package notify

import (
	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Title renders the notification in the reader's language from cat's
// "<domain>.<action>.title" message: "Ana and 4 others commented on #12"
// for a collapsed one, "Ana commented on #12" for one event. The result is
// plain text: escape it at the sink.
func (n Notification) Title(cat *locale.Catalog, readerLocale string) string {
	ev := activity.Event{Domain: n.Event.Domain, ID: n.Event.ID, Action: n.Action, SubjectID: n.SubjectID,
		ActorType: n.Actor.Type, ActorID: n.Actor.ID, ActorLabel: n.Actor.Label}
	return cat.Title(readerLocale, ev, n.Others())
}
