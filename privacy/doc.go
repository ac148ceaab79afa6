// Package privacy erases and exports one person's data across every table
// of the library (and the app's own, through Parts): the "right to be
// forgotten" and the "right of access" of EU customers.
//
// It sits above the table owners (activity, inbox and its channels,
// workflow) and calls each one's eraser, so an erasure never forgets a
// table: activity.Domain.Erase, inbox.ErasePerson, notify.ErasePerson,
// email.ErasePerson, batch.ErasePerson, slack.ErasePerson,
// webhook.ErasePerson, device.ErasePerson, workflow.ErasePerson. A test
// seeds a person through every path (recording, notifications, a digest,
// an escalation, a refused mail and its suppression, Slack thread
// bookkeeping, the workflow run log, open batch windows of email and
// Slack, collapsed in-app rows that list them among their actors, their
// push subscription and phone number, a neighbour's address labelled with
// their name), erases, then
// scans every text, jsonb, inet and array column of every table of the
// database (listed from information_schema, so a table added later is
// covered) and finds none of the person's strings.
//
// # A person
//
// An activity.Person is the app's reference of someone (Type "users", ID
// "3": their actor and record reference, and their recipient key) and the
// personal strings the app knows of them (name, email addresses, Slack
// ID). Erase adds what the events hold: the labels, IP addresses and user
// agents of their events, and the values at the personal paths of extra
// that domains declare:
//
//	issues := activity.MustDomain(activity.DomainConfig{
//		Name: "issue", Actions: []string{"comment_added", "invited"},
//		PersonalPaths: []string{"email", "author.name"},
//	})
//
// # Tenants: which person an id names
//
// A person is an identity within a tenant, as everything else of a
// tenanted domain is. "users:9" of one organisation and "users:9" of
// another are two people unless the app says otherwise, so every
// person-level call takes the tenant from the context (activity.WithTenant,
// set for a request by activity.MiddlewareConfig.Tenant) and touches
// nothing of another tenant: Erase, EraseSettled, Export, Erasures, the
// Handler, and below them activity.Domain.PersonValues, Erase,
// PersonEvents and PersonCondition, inbox.ErasePerson, StoredPreferences
// and StoredChoices, notify.ErasePerson and EachOf, and the email, batch,
// slack, webhook, device and workflow erasers. With a tenanted domain
// and no tenant on the context they return activity.ErrNoTenant before
// any statement (the Handler answers 403 with NoTenantMessage), never
// "every tenant". Untenanted domains work as before: their rows have no
// tenant, and the context's tenant, if any, is ignored. A Config that mixes
// tenanted and untenanted domains is refused: an untenanted domain's
// "users:9" is every tenant's.
//
// Which to pick:
//
//   - Per-tenant people (the default): the app's users belong to one
//     organisation each (a users table per tenant, ids numbered per tenant,
//     or one account per membership). Erase and Export a person with their
//     tenant on the context; a test seeds two tenants with equal person and
//     subject ids and finds, after erasing one tenant's user 9, every row of
//     the other tenant byte for byte as it was.
//   - Global people: one account joins several organisations, and
//     "users:9" is that one person everywhere. Set
//     Config.PersonsAcrossTenants: Erase and Export then reach the person's
//     rows in every tenant, whatever tenant the context carries
//     (activity.WithoutTenant and activity.AcrossTenants underneath), the
//     export's person line says "across_tenants", and the erasure record
//     has no tenant. Run it as the operator (a role that row-level
//     security does not hold): its reads and writes span tenants.
//
// The erasure log (tidings_erasures) records the tenant (migration
// 00022); records written before it have none, since their erasure reached
// every tenant, and Reapply erases those again in every tenant. The log
// and inbox_pending are the operator's tables (migrations.OperatorTables):
// Erase writes and reads them, so under row-level security it runs as the
// operator, and only the library's tenant filters keep it to the tenant.
// Given a handle whose role row-level security holds on them (the app's
// request role), Erase, EraseSettled, Reapply and Erasures return
// ErrNeedsOperator before any other statement (PostgreSQL's
// row_security_active): that role sees none of their rows, so
// EraseSettled would find no delivery in flight and return while jobs
// copy the data again, Reapply would find nothing to re-apply, Erasures no
// record, and Erase could not record itself (it failed with PostgreSQL's
// "new row violates row-level security policy" after doing all its work).
// Export reads only tenant tables and runs under the app's role.
//
// # Erase
//
//	px, _ := privacy.New(privacy.Config{Domains: []*activity.Domain{issues}, Parts: []privacy.Part{usersPart}})
//	p := activity.Person{Type: "users", ID: "3"}.WithValues(u.Name, u.Email, u.SlackID)
//	rec, err := px.Erase(ctx, db, p, privacy.Request{By: "support:ana", Reason: "ticket 812"})
//
// It keeps every event (counts and IDs unchanged; feeds render the actor
// as activity.ErasedLabel) and, in one transaction:
//
//   - in the events they did: label, IP address and user agent; in the
//     events about them (as the record, or the subject when the domain's
//     subject table is their type): the record label; in all of those: the
//     personal paths of extra, and any string of extra or tags that
//     mentions them ("[erased]");
//   - in anyone's events: personal paths and tags that mention them, and
//     every mention in copies of their data: retraction reasons (on the
//     retracted events and in the "_retracted" event), and the labels and
//     extra of events recorded by a system actor or caused by another
//     event (a workflow rule named after them labels the events its
//     actions record "Workflow: <rule name>"). What people wrote about
//     them in their own events stays theirs, unless a personal path holds
//     it;
//   - their own notifications, preferences, delivery choices, stream
//     head, batch windows (digests, a Slack window routed to them) and
//     escalations (mail not yet sent is not sent); in everyone else's
//     notifications (with collapsed rows' actors), batch items and
//     escalations: the copied labels and snapshots; windows' profiles and
//     errors that mention them;
//   - suppression entries of their addresses; Slack thread bookkeeping of
//     subjects that are them or routes that name them;
//   - their addresses outside the app (package inbox/device: web push
//     subscriptions, mobile push tokens, phone numbers), and anyone's
//     address that is one of their values (their number registered by a
//     housemate); in others' address labels, every mention masked;
//   - error texts (deliveries, dead letters, outbox, backfills), the run
//     log's explanations, errors and action results, rules' names and
//     parameters, webhook subscriptions' creators: every mention masked.
//
// It records the erasure in tidings_erasures: the person's key, who asked,
// why, when, and the rows changed per table; no personal data.
//
// Kept on purpose: keys (actor_id, record_id, recipient, subject ids). They
// are the app's keys of the person, which name nobody once the app deleted
// or masked its own row (a Part does it in the same transaction), and the
// deliveries ledger needs them so a retried job does not deliver twice.
//
// Matching ignores case and takes whole words: "Ana Lima" masks "ana
// lima" inside an error text, but "ana@example.com" is not masked inside
// "hana@example.com" (the test checks that such a neighbour keeps all of
// their data). Addresses in suppression lists and digests are matched
// whole. Values shorter than activity.MinPersonValue (3) are refused or
// skipped: they would mask unrelated words. Give full names and addresses.
//
// Deliveries in flight: a job that loaded its event before the erasure
// committed may copy the old label once more (an in-app notification),
// and an engine job that loaded a rule naming the person may write the
// rule's name and parameters into the run log. Erasure.InFlight counts
// the deliveries that may (those of the person's events, and those of the
// events such a rule triggers on, pending when the erasure began; a
// relay enqueues a batch's jobs before it commits their pending rows, so
// the erasure first waits for a batch that holds those events' outbox
// rows, and keeps the person's locked until it commits: no relay hands
// them out meanwhile);
// EraseSettled waits for them (at most a given time) and erases again.
// The triggers' outbox rows are anyone's, so they are only waited for and
// a relay may hand one out before the erasure commits, its engine job
// reading the rule as it was: EraseSettled lists those deliveries again
// after the commit, waits for them too, and always erases twice when a
// rule named the person.
// A backfill's jobs (inbox.Backfiller) have no pending row in the queue;
// the worker gives one a row while it runs, inserted before it loads its
// event, reading the event's row FOR SHARE, and the erasure locks the
// person's events before it lists the deliveries: a running backfill job
// is counted in flight, or loads the erased event.
// Use it while a worker runs; jobs only queued or waiting for a retry
// load the erased event when they run (Redis holds references), so
// without a running worker one Erase is enough. The demo test saw this
// race and keeps it covered: with one Erase, the name came back in a
// notification; so do privacy's tests, for a notification and a run log.
//
// Stop recording for the person first: an event recorded after Erase holds
// their data again. What left the database is out of reach: mails sent,
// Slack messages posted (Slack's own deletion API), webhooks delivered.
//
// # Rewriting in place, not crypto-shredding
//
// Crypto-shredding (Rails Event Store's encryption mapper: a key per
// person, personal fields encrypted at write, the key deleted to forget)
// makes an erasure one DELETE and suits append-only stores. It does not fit
// this library, measured and reasoned:
//
//   - The data is copied: labels into notifications, whole events into
//     digest and escalation snapshots, names into the run log's
//     explanations, addresses into SMTP error texts written by other
//     servers. Each copy would need the same encryption, and free text
//     from third parties cannot have it: those must be rewritten anyway.
//   - SQL reads these fields: the workflow engine's conditions on
//     actor.label and extra, history queries by IP, the throttle function's
//     comparison, feeds rendering labels (every page would decrypt, with a
//     key lookup per actor). Encrypted, each needs the application in the
//     loop.
//   - Recording is one statement. A key per actor is a lookup (or an
//     insert) before it: another round trip, or a cache that must forget
//     deleted keys everywhere. Measured (cmd/bench, group export): a key
//     read plus AES-256-GCM of label, IP and user agent ran at 0.95x of
//     recording in clear at concurrency 8, so this cost is small; the
//     copies and the reads above are what decide.
//   - Keys kept in the same database are in the same backups: restoring a
//     backup restores the key. Real shredding needs a key store with its
//     own, shorter retention.
//
// Rewriting costs time at erasure instead (cmd/bench, group export, on a
// loaded 2-core machine): a person with 1,000,000 events took 84 s, 1.46x
// a hand-written UPDATE of the same rows; a person with 100 events among
// 1,000,000 took 16 ms against 2.2 ms, the difference being the scans of
// every table for copies of their strings (cheap LIKE filters first, then
// the masking functions on the rows found). Erasure is rare and not on a
// request's hot path; recording and reading pay nothing. See README's
// Figures.
//
// Backups and the WAL keep the old values until they rotate out, and the
// old row versions stay in the table's pages until VACUUM reuses them.
// Keep backup retention within the time you promise for erasure, and after
// restoring a backup call Reapply: it erases again every person of
// tidings_erasures (the record keeps their key; Erase finds their strings
// in the restored events again).
//
// # Export
//
// Export writes a person's data as JSON lines (application/x-ndjson),
// every shape in snake_case: a "person" line (type, id, the label their
// newest event gives them, their tenant); every event where they are the
// actor, the record, the subject or a recipient (notified of it), each
// once, with their role; their notifications ("notification":
// NotificationLine); their preferences ("preference":
// inbox.StoredPreference) and delivery choices ("delivery":
// inbox.StoredChoice: immediate, or a batching schedule); the addresses
// they registered outside the app ("device": device.Address; not another
// person's registration of the same number); the lines of the Parts; an
// "end" line with the counts (an export without it is incomplete). It
// reads in keyset batches (Config.Batch, 1000) and writes through a 64
// KiB buffer, so its memory is flat: 1,000,000 events
// exported with a peak RSS of about 34 MB in a process of its own
// (cmd/bench), at the speed of a raw COPY of the same rows as JSON.
//
// An export holds the person and no one else. Every row comes from the
// person's tenant (or every tenant under Config.PersonsAcrossTenants), and
// in each event and notification the personal fields of anyone else are
// masked with erasure's rules (activity.Domain.ForPerson): another actor's
// label, IP address and user agent, another record's label, personal
// paths of extra that are not among the person's values, and any mention
// of those in extra, tags and the retraction reason. Pass the person with
// the values the app knows (as for Erase): their own address at a
// personal path of an event someone else did about them is kept. A third
// person named in free text the event does not reference (a comment
// quoting a name) cannot be told apart and stays. A test seeds two
// tenants with equal ids and a neighbour in each, exports one person,
// decodes every line by its shape, compares the events, notifications,
// preferences, delivery choices and addresses with the database, and finds
// none of the other people's strings in the file.
//
// # The handler
//
// Handler serves one person's data: GET downloads the export, POST erases
// (when AllowErase). Its Authorize hook says whose data a request reaches,
// and who asks (recorded); returning an error wrapping ErrForbidden
// answers 403. The request's context gives the tenant: a session without
// one answers 403 with NoTenantMessage when a domain is tenanted. The demo
// mounts it on its person page.
package privacy
