package notify

import (
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// Group is the notifications of a page that tell the same story: one
// action on one subject, by one or more actors.
type Group struct {
	Domain, SubjectID, Action string
	// Actors did the action, most recent first, each once.
	Actors []activity.Ref
	// Notifications are the group's, newest first.
	Notifications []Notification
	Latest        time.Time // the newest notification's CreatedAt
	Unread        int       // how many are unread
}

// GroupPage groups a page's notifications by (domain, subject, action),
// keeping the page's order (a group sits where its newest notification
// was). Render each group as one line with Summary.
func GroupPage(ns []Notification) []Group {
	type key struct{ domain, subject, action string }
	index := map[key]int{}
	var out []Group
	for _, n := range ns {
		k := key{n.Event.Domain, n.SubjectID, n.Action}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Group{Domain: n.Event.Domain, SubjectID: n.SubjectID, Action: n.Action, Latest: n.CreatedAt})
		}
		g := &out[i]
		g.Notifications = append(g.Notifications, n)
		if n.Unread() {
			g.Unread++
		}
		dup := false
		for _, a := range g.Actors {
			if a.Type == n.Actor.Type && a.ID == n.Actor.ID {
				dup = true
				break
			}
		}
		if !dup {
			g.Actors = append(g.Actors, n.Actor)
		}
	}
	return out
}

// Summary says who did it: "Ana commented on #12", "Ana and Bo commented
// on #12", "Ana and 2 others commented on #12", from the verb phrase and
// the object's display name. The result is plain text: escape it at the
// sink (html/template does).
func (g Group) Summary(verb, object string) string {
	return fmt.Sprintf("%s %s %s", g.Who(), verb, object)
}

// Who names the group's actors: "Ana", "Ana and Bo", "Ana and 2 others".
func (g Group) Who() string {
	name := func(r activity.Ref) string {
		if r.Label != "" {
			return r.Label
		}
		return r.ID
	}
	switch n := len(g.Actors); n {
	case 0:
		return "Someone"
	case 1:
		return name(g.Actors[0])
	case 2:
		return name(g.Actors[0]) + " and " + name(g.Actors[1])
	default:
		return fmt.Sprintf("%s and %d others", name(g.Actors[0]), n-1)
	}
}
