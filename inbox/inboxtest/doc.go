// Package inboxtest helps test inboxes, and the code that records events for
// them, against real PostgreSQL and Redis.
//
// Process runs an inbox on an event synchronously, as the worker would (the
// event as the cause on the context, a ledger on your database), without
// asynq: for testing what an inbox does.
//
//	func TestCommentNotifiesTheAuthor(t *testing.T) {
//		res, err := issues.RecordEvent(ctx, db, issue.ID, "comment_added", activity.Actor(bo))
//		...
//		if err := inboxtest.Process(t, db, notifications, res.Event); err != nil {
//			t.Fatal(err)
//		}
//		// the author has one unread notification
//	}
//
// Relay moves the outbox to asynq once, without a worker, and
// AssertEnqueued and AssertNotEnqueued check for the job of one inbox and
// one event: for testing that recording an event fans out where it should.
//
//	inboxtest.Relay(t, db, redis, domains, notifications, mailer)
//	inboxtest.AssertEnqueued(t, redis, notifications, res.Event.Ref())
//	inboxtest.AssertNotEnqueued(t, redis, mailer, res.Event.Ref()) // muted, or not its action
//
// NewDelivery builds the Delivery the worker would pass, to test retries
// (set Attempt) or to call Process yourself.
package inboxtest
