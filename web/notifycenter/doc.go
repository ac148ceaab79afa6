// Package notifycenter is the notification center an app mounts: a JSON
// API over the in-app notifications of package inbox/notify (list with a
// keyset cursor, unread and unseen counts, read, unread, seen, archive,
// unarchive, delete, mark all read) and a live stream of server-sent
// events that pushes new notifications and counts to their recipient,
// across processes.
//
// # Mounting
//
// In the web process:
//
//	center, err := notifycenter.New(notifycenter.Config{
//		DB:     db,
//		Redis:  redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}),
//		Prefix: "/api/notifications",
//	})
//	mux.Handle("/api/notifications/", web.Middleware(identify, nil)(center))
//	defer center.Close()
//
// Who asks is a web.Identity (web.Middleware, or Config.Identity): its
// Person's ID is the recipient, as the notify inbox stores recipients
// ("7"), and its Tenant the tenant read. Nobody signed in is refused
// (401); without any identity every request is refused (403). Protect the POST and
// DELETE routes against cross-site requests as the app's other forms are
// (http.CrossOriginProtection).
//
// In the worker process, the notify inbox announces what it committed:
//
//	ann, _ := notifycenter.NewAnnouncer(redisClient, "")
//	n, _ := notify.New(notify.Config{..., Announcer: ann})
//
// # Routes (under Prefix)
//
//	GET    /                 ?after=&limit=&unread=1&archived=1 -> ListResponse
//	GET    /counts           -> notify.Counts
//	GET    /stream           server-sent events (below)
//	GET    /{id}             -> Item
//	POST   /{id}/read|unread|archive|unarchive|delete -> ChangeResponse
//	DELETE /{id}             -> ChangeResponse
//	POST   /read-all, /seen  -> ChangeResponse
//	GET    /push/sw.js, /push/client.js, /push/key     (with Config.Push)
//	POST   /push/subscriptions   Subscription -> 201 device.Address
//	DELETE /push/subscriptions   {"endpoint": ...} -> UnsubscribeResponse
//
// A POST from an HTML form with a "back" field (a local path) redirects
// there instead of answering JSON, so pages work without JavaScript.
// Errors are JSON ErrorResponses: 400 for a bad cursor, limit or
// Last-Event-ID, 403 unauthorized, 404 for another person's or a missing
// notification.
//
// The center has no page of its own: the app's pages show the
// notifications (with the sentences and links of Config.Describe). What
// it says itself is each error's "message", a key of Messages
// ("notifycenter.error.sign_in", "notifycenter.error.limit", ...) with
// its English default, in the reader's locale (web.Identity.Locale, else
// Accept-Language) through Config.Words; the "error" code stays the same
// in every language, for the app's code to branch on:
//
//	cat, _ := locale.New("en", "de")
//	cat.Set("de", "notifycenter.error.sign_in", "Melden Sie sich an, um Ihre Benachrichtigungen zu sehen.")
//	center, err := notifycenter.New(notifycenter.Config{DB: db, Redis: rdb, Words: web.Words{Catalog: cat}})
//
// A push subscription the device store refuses answers 400 with why, by
// the refusal's code (device.InvalidError.Code):
// "notifycenter.error.device.empty", ".too_long", ".encoding",
// ".endpoint", ".p256dh", ".p256dh_point" and ".auth", whose first
// argument is the field (Address, Label, P256dh, Auth); their English
// is the store's reason word for word.
//
// # The stream
//
//	event: notification   id: <Seq>   data: Item
//	event: counts         id: <Seq>   data: notify.Counts
//
// Each recipient's notifications carry a Seq that commits in order (see
// notify.Since): a browser's EventSource reconnects with the last id it saw
// as Last-Event-ID and gets exactly what it missed, then the counts. An
// id above the stream's head is of an older numbering (a tenant's stream
// started anew by migration 00020, or heads erased with a person's data):
// the stream restarts at the head.
//
// # Notify me on this browser
//
// With Config.Push (the VAPID public key of the app's webpush inbox) the
// center offers web push: /push/sw.js is a service worker that shows each
// push of package inbox/webpush as a notification (its title, body and
// tag; a click opens its url, a local path, or PushConfig.OpenURL), and
// /push/client.js gives the app's pages tidingsPush.subscribe(label),
// unsubscribe() and state(), which register the worker, subscribe the
// browser with the key (the browser asks the person) and POST or DELETE
// the subscription. Each subscription is stored for the signed-in person
// in the request's tenant (device.Register; device.Remove takes it
// away), where the webpush inbox finds it for the events of that tenant.
// The two routes take JSON only (415 otherwise), which a cross-site form
// cannot send; a subscription that cannot be stored is a 400 naming the
// field.
//
// # Tenants
//
// Every route serves the recipient in the request's tenant (the tenant on
// its context, inbox.TenantOf, set by the app's middleware such as
// activity.Middleware; none for an untenanted app). A recipient key in two
// tenants is two people with a stream each (notify.Arrival): its own Seq
// numbers from 1, its own head in the counts, and its own Redis channel,
// so one tenant's arrivals neither wake nor number another's streams.
//
// # Transport
//
// The worker PUBLISHes each arrival on Redis (one channel per stream, a
// (tenant, recipient), after the delivery committed: Announcer.Channel,
// the prefix and the recipient when untenanted, the prefix, the tenant, a
// NUL byte and the recipient in a tenant, so no ':' in a tenant or
// recipient makes two streams share a channel); each web process holds
// one subscription connection, subscribed to the channels of its open
// streams. A change made through the API (read, archive, delete) is
// announced on the channel of the request's tenant and recipient. A message
// only wakes a stream, which reads from PostgreSQL what is new: a message
// lost while Redis restarts costs latency (Config.Recheck, default 30 s),
// never a notification. PostgreSQL's NOTIFY was the alternative; it
// takes a server-wide lock at commit, so one per notification would make
// the worker's commits, and everyone else's, wait in line. cmd/bench's
// push group measures the latency from the worker's commit to the SSE
// client with 1,000 streams open.
package notifycenter
