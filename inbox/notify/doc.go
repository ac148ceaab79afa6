// Package notify is the in-app notifications inbox: for each event it
// accepts, one notification per recipient, in the notifications table, with
// unread counts, newest-first pages, read and seen marks, mutes, and
// grouping for display.
//
// # Declaring it
//
// The app says who hears of an event; the inbox drops the actor (a person
// is never notified of their own act), duplicates, and whoever muted the
// action:
//
//	notifications, err := notify.New(notify.Config{
//		Accepts: inbox.On("issue", "comment_added", "closed"),
//		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error) {
//			var ids []string
//			err := db.Raw(`SELECT author_id::text FROM issues WHERE id = ?::bigint
//				UNION SELECT user_id::text FROM subscriptions WHERE issue_id = ?::bigint`,
//				ev.SubjectID, ev.SubjectID).Scan(&ids).Error
//			return ids, err
//		},
//	})
//
// and runs it in an inbox.Worker with the other inboxes. Recipients are the
// app's keys as text; RecipientType (default "users") is the actor type they
// are keys of.
//
// # Exactly once
//
// Each delivery inserts its ledger rows (one per recipient, see
// inbox.Delivery.OnceEach) and the notifications in one transaction, and
// notifications are unique per (recipient, domain, event): a retried,
// re-enqueued or concurrently re-run job never notifies anyone twice.
//
// # Reading
//
//	page, err := notify.List(ctx, db, notify.Query{Recipient: "7", Limit: 20})
//	next, err := notify.List(ctx, db, notify.Query{Recipient: "7", After: page.Next})
//	n, err := notify.UnreadCount(ctx, db, "7")
//	ok, err := notify.MarkRead(ctx, db, "7", page.Notifications[0].ID) // only one's own
//	_, err = notify.MarkAllRead(ctx, db, "7")
//	_, err = notify.MarkSeen(ctx, db, "7") // the badge was shown: UnseenCount drops to 0
//
//	ok, err = notify.Archive(ctx, db, "7", id)    // out of the list and the counts; Unarchive
//	ok, err = notify.MarkUnread(ctx, db, "7", id) // and Delete; each only one's own
//	c, err := notify.CountsOf(ctx, db, "7")        // unread, unseen and the stream head, one query
//
// Pages are keyset-paginated (created_at, id), never by offset. A
// notification carries the event's action, subject, actor and record (with
// their labels as recorded), so a page renders without loading events;
// GroupPage folds it into stories, and Group.Summary prints them:
//
//	for _, g := range notify.GroupPage(page.Notifications) {
//		fmt.Println(g.Summary("commented on", "#"+g.SubjectID)) // Ana and 2 others commented on #12
//	}
//
// Summaries are plain text; escape them where they are written
// (html/template does).
//
// # Live streams
//
// Each notification has a Seq, its position in its recipient's stream,
// taken from the stream's row of notification_heads, which stays locked
// until the delivery commits: a stream's numbers commit in order, so
// Since(ctx, db, recipient, n, limit) returns exactly what a reader that saw
// n has not. After each commit the inbox tells its Config.Announcer who got
// what (package web/notifycenter publishes it on Redis and streams it to
// browsers); a failed announcement is logged and costs only the push.
//
// A stream is a (tenant, recipient): a recipient key in two tenants
// (tenant-local user ids) is two people, each with a stream of their own,
// numbered from 1 on a head of its own (notification_heads keyed by
// tenant_id, empty when untenanted; migration 00020), so neither a Seq, nor
// the gaps between a reader's numbers, nor Counts.Head tells anything of
// the other tenant's notifications. The event's tenant picks the stream
// a delivery numbers in, and the context's tenant the stream Since and
// CountsOf read (see inbox.TenantOf); Arrival carries the Tenant, so an
// announcer wakes only that tenant's readers. ErasePerson deletes a
// person's heads in every tenant. Streams that existed before migration
// 00020 keep counting from the recipient's old shared head, so no number a
// reader already saw is given again.
//
// # Mutes, defaults, critical kinds
//
// Mute(ctx, db, recipient, domain, action) stops in-app notifications of an
// action (inbox.AnyAction for the whole domain; inbox.SubjectAction(id) for
// one subject). Config.Defaults gives the app's defaults and critical kinds
// (see inbox.Defaults): a critical kind reaches everyone whatever they
// muted. The preferences live in the
// inbox package's notification_preferences table, per channel, so email and
// Slack inboxes honour the same kind of choice on their own channels.
//
// # Collapsed notifications
//
// With Config.Batching a recipient whose choice on inbox.ChannelApp is
// batched (inbox.Defaults.Choices) gets one row per (subject, action)
// until the window of their schedule closes: each event joining it updates
// the row in place (ItemCount, Actors, the newest actor and time), moves it
// to the top of the list and of the live stream (a new Seq), and makes it
// unread again. Notification.Title words it in the reader's language:
// "Ana and 4 others commented on #12".
package notify
