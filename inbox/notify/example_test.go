package notify_test

import (
	"context"
	"fmt"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/inboxtest"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// Bo and Cy comment on Ana's issue: Ana gets two notifications, shown as one
// line.
func Example() {
	ctx := context.Background()
	var ana, bo, cy, issue int64
	db.Raw(`INSERT INTO users (name) VALUES ('Ana') RETURNING id`).Scan(&ana)
	db.Raw(`INSERT INTO users (name) VALUES ('Bo') RETURNING id`).Scan(&bo)
	db.Raw(`INSERT INTO users (name) VALUES ('Cy') RETURNING id`).Scan(&cy)
	db.Raw(`INSERT INTO issues (title, author_id) VALUES ('Login fails', ?) RETURNING id`, ana).Scan(&issue)

	notifications, _ := notify.New(notify.Config{
		Accepts:    inbox.On("issue", "comment_added"),
		Recipients: authorAndSubscribers, // the issue's author and subscribers
	})
	for _, who := range []activity.Ref{user(bo, "Bo"), user(cy, "Cy")} {
		res, _ := issues.RecordEvent(ctx, db, issue, "comment_added", activity.Actor(who))
		// A worker would run the inbox after the commit; run it here.
		_ = notifications.Process(ctx, inboxtest.NewDelivery(db, notifications, res.Event))
	}

	n, _ := notify.UnreadCount(ctx, db, id(ana))
	page, _ := notify.List(ctx, db, notify.Query{Recipient: id(ana)})
	fmt.Println(n, "unread")
	for _, g := range notify.GroupPage(page.Notifications) {
		fmt.Println(g.Summary("commented on", "Login fails"))
	}
	// Output:
	// 2 unread
	// Cy and Bo commented on Login fails
}
