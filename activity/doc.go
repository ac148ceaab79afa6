// Package activity records what happened to an app's domain objects, one
// events table per domain, and reads it back as feeds and history.
//
// It is "event sourcing for smooth brains": an issue tracker keeps
// issue_events (subject, actor, action, polymorphic record, extra JSON,
// occurred_at), records a row from its handlers in one line, shows the rows
// as an activity feed, and lets the inbox package act on each new row after
// it commits. This package knows nothing of queues, Slack or email.
//
// # Declaring a domain
//
// A domain is declared once, in code:
//
//	var Issues = activity.MustDomain(activity.DomainConfig{
//		Name:    "issue",                                  // table issue_events
//		Subject: activity.Subject{Table: "issues"},        // key "id", bigint
//		Actions: []string{"comment_added", "comment_deleted", "comment_viewed", "label_added"},
//		Resolvers: map[string]activity.Resolver{
//			"users":    activity.ModelResolver[User](),
//			"comments": activity.ModelResolver[Comment](),
//		},
//	})
//
// Its table comes from a migration in the app: activity.GooseMigration(Issues)
// renders one, and cmd/tidings-migration writes it into a goose folder. The
// library's own migrations (package migrations: the shared event ID sequence
// and the outbox) go first. Subjects may have bigint, UUID or text keys.
//
// # Recording
//
//	res, err := Issues.RecordEvent(ctx, db, issue.ID, "comment_added",
//		activity.Actor(user), activity.Record(comment), activity.Extra{"length": n})
//
// db is what the handler holds: the pool, or a transaction, which the call
// joins (it never begins one). The event row and its outbox row are written
// by one SQL statement, so they commit or roll back together, savepoints
// included, and nothing fans out for rolled-back work. Recording never talks
// to Redis.
//
// The actor and request metadata (request id, correlation id, source, IP,
// user agent) default from the context, set once per request by Middleware;
// explicit options win. Events recorded while an inbox handles an event
// (context from WithCause) carry the causing event's ID, its correlation id,
// and a depth; past DomainConfig.MaxDepth (8) recording is refused with
// ErrCausationDepth, which stops loops such as a workflow triggering itself.
//
// Each actor and record keeps a short label snapshot (ActivityLabel, or a
// Name/Title/... field), so a feed still renders "Ana" after Ana's row is
// deleted.
//
// Recording does not notify relays of each event: a pg_notify makes its
// transaction's commit take a server-wide lock held through the WAL flush,
// which would serialize every recording commit of the server. At most one
// recording per DomainConfig.WakeInterval (100ms) per Domain value carries
// a wake-up, inside its own statement; relays poll for the rest (package
// inbox explains how, with figures). DisableNotify: poll only. A relay in
// the recording process learns of that process's own recordings on the
// pool at once, with nothing sent to PostgreSQL: it registers with
// Domain.OnCommitted, called right after each such commit.
//
// # Bulk recording
//
// RecordEvents records many events (an import, a backfill) in one statement:
// the columns travel as arrays and unnest into the events table, the outbox
// rows follow in the same statement. It is all or nothing, joins the caller's
// transaction, checks every entry as RecordEvent does (a refusal is a
// *BulkError naming the entry), and gives every event one correlation id
// (the context's, else a new "bulk-..." id, in BulkResult.CorrelationID), so
// FeedQuery.CorrelationID finds the import again. Throttling is refused in
// bulk.
//
// # Throttling
//
// activity.ThrottleWithin(15*time.Minute) collapses repeats: when the same
// (subject, action, actor, record) was recorded within the window, the
// existing event's occurred_at moves to now and its Repeats grows instead of
// a row being inserted; Result.Throttled says so, and nothing fans out again.
//
// Throttling is race-free: the domain's throttle function (part of its
// migration) takes a transaction-scoped advisory lock on the key before the
// statement that looks for the recent event. This relies on READ COMMITTED,
// PostgreSQL's default, where each statement of the function takes a fresh
// snapshot and so sees the commit of the writer that held the lock before.
// Under REPEATABLE READ or SERIALIZABLE the transaction's snapshot is fixed
// before the lock and a concurrent repeat would be invisible, so a throttled
// call there is refused with ErrThrottleIsolation. Inside a caller's
// transaction the lock is held until it commits: concurrent throttled
// calls on one key queue behind it.
//
// # Errors
//
// Bad input is refused before anything is written, with an error that says
// what was wrong and what is allowed, testable with errors.Is against the
// package's sentinels (ErrUnknownAction, ErrInvalidSubject, ErrInvalidRef,
// ErrNoActor, ErrInvalidExtra, ErrInvalidOption, ErrNilDB...) and readable
// with errors.As (*UnknownActionError suggests the nearest action).
//
// Whatever PostgreSQL would refuse with a SQLSTATE that aborts the caller's
// transaction is caught first: NUL bytes and invalid UTF-8 in ids, labels,
// metadata and extra (strings and keys, where encoding/json would otherwise
// store U+FFFD replacements silently), unpaired UTF-16 surrogate escapes
// ("\ud800") and numbers outside numeric's range (1e1000000) in extra, IPv6
// addresses with a zone, times outside years 1-9999, actor and record types
// that are not identifiers. So is what would be stored but could not be
// used: extra nested deeper than MaxExtraDepth (encoding/json could never
// marshal or decode the event again), extra whose numbers PostgreSQL writes
// back longer than MaxExtraBytes (1e100000 is 100001 bytes read back), and
// labels over MaxLabelBytes passed in a Ref (a model's label is cut to it).
// RecordEvents returns an entry's refusal in a *BulkError naming its index. In a transaction, a subject that
// does not exist (checked in the recording statement) and a throttled call
// under REPEATABLE READ (*IsolationError) are refused without aborting it;
// on the pool, the subject is left to the foreign key, which spares an
// index probe per event.
//
// # Observing
//
// DomainConfig.Observer watches recording without this package knowing
// Prometheus or OpenTelemetry: NewDomain calls its Declared, and every
// RecordEvent call runs between its RecordStart and the end function it
// returns (Observers combines several). Package observe counts calls per
// domain, action and result, and makes a span per call whose W3C
// traceparent it puts in the call's Metadata.TraceParent: the event stores
// it (trace_parent), so the jobs that deliver it continue the request's
// trace. A traceparent given with Meta must be W3C's form.
//
// # Reading
//
// Feed returns a page of events newest first, for one subject, subjects
// selected by a subquery (all issues of a project), one actor or one record,
// filtered by actions, time range, correlation id or cause. Pages continue
// with opaque keyset cursors (never OFFSET), so page 5,000 costs what page 1
// does. Actors and records of a page are loaded by the domain's resolvers
// in one call per type; on the pool, the queries of its ModelResolvers go
// together, one round trip for all types. CountByAction and LastOccurred
// answer history questions; Replay streams matching events oldest first in
// keyset batches for backfills, never holding a table in memory.
//
// # Tags, and maintenance scripts run by hand
//
// Metadata.Tags are the app's own labels (a ticket, the operator), stored
// with each event in a jsonb column and filterable (FeedQuery.Tags,
// HistoryQuery.Tags). A script someone runs from a console should say who
// ran it and why, so the history tells the story later ("Ana, working on
// SUP-1234, fixed the VAT of 300 products"). Set it once, at the top:
//
//	ctx := activity.WithActor(context.Background(), activity.System("console:ana"))
//	ctx = activity.WithMetadata(ctx, activity.Metadata{
//		Source:        "console",
//		CorrelationID: "SUP-1234-vat-fix", // every event of this run, retractable as one
//		RequestID:     "SUP-1234-vat-fix",
//	})
//	ctx = activity.WithTags(ctx, map[string]string{
//		"ticket":   "https://support.example.com/SUP-1234",
//		"operator": "ana",
//		"script":   "fix_vat.go",
//	})
//	// ... record every change through Domain.RecordEvent(ctx, tx, ...), in
//	// the transaction that makes it; declare an action for what the script
//	// does when none fits ("vat_corrected").
//
// Then Feed(ctx, db, FeedQuery{Tags: map[string]string{"ticket": "..."}})
// lists what the script did, and Retract with the correlation id takes it
// back if it was wrong.
//
// # Retractions
//
// Retract marks the events one import or script recorded (by correlation
// id, or by IDs) as retracted, with who, when and why, and records an
// action ending in "_retracted" on each subject they touched. Nothing is
// deleted: feeds and history hide retracted events by default
// (Retracted: IncludeRetracted or OnlyRetracted shows them), projections
// (package projection) take them back out, and the inbox package's
// Delivered lists the mail, Slack and webhook deliveries already made for
// them, which are not undone.
//
// # The event catalog
//
// DomainConfig.Specs describes actions: the Go struct of an action's extra
// (recording then refuses an extra with unknown fields or values of the
// wrong type), a sentence, and who records it. NewCatalog, WriteCatalog and
// CheckCatalog turn the declarations into catalog.md and catalog.json for
// the people who read the data, and a test that calls CheckCatalog fails
// when an action was added or changed without regenerating them.
// DomainConfig.Aliases renames actions: the old name still records (as the
// new one), and filters on the new name match old rows too.
//
// # JSON and CloudEvents
//
// Event has a documented JSON form (see Event). NewCloudEvent and
// MarshalCloudEvent wrap an event as a CloudEvents 1.0 JSON document (type
// "<domain>.<action>", with actor, correlationid and causationid
// extensions) for webhooks and exports (package inbox/webhook).
//
// # Lifecycle: deleted subjects, time partitions, retention
//
// History outlives its subject: by default (KeepHistory) the events table
// has no foreign key to the subject table, so deleting an issue keeps its
// events, and feeds render them from the labels snapshotted at recording
// (the event browser shows "deleted issue #12"). Recording about a subject
// that does not exist is still refused (*SubjectError): every recording
// statement checks it. DomainConfig.OnSubjectDelete: Cascade brings back
// ON DELETE CASCADE for apps that want dependent: :destroy.
//
// DomainConfig.Partition makes the table partitioned by month (or week,
// or day) of occurred_at, kept by pg_partman where it is installed, else
// by Maintain with plain DDL; DomainConfig.Retention is how long events
// are kept. Call Maintain from a scheduled job (package retention runs it
// with the other tables' retention): it creates partitions ahead, drops
// expired ones (DETACH CONCURRENTLY, then DROP: recording is not blocked),
// or deletes expired events of an unpartitioned table in small batches.
//
//	issues := activity.MustDomain(activity.DomainConfig{
//	    Name: "issue", Actions: actions,
//	    Partition: &activity.Partitioning{},   // monthly, 4 ahead
//	    Retention: 2 * 365 * 24 * time.Hour,
//	})
//
// # Tenants
//
// A domain declared with a Tenant key type is tenanted: every event belongs
// to a tenant (an organisation, a workspace, an account), kept in the
// events table's tenant_id column, whose indexes lead with it (the feed
// indexes put it right after the subject or the actor).
//
//	var Issues = activity.MustDomain(activity.DomainConfig{
//		Name: "issue", Tenant: activity.KeyBigint, Actions: []string{"comment_added"},
//	})
//
// Recording takes the tenant from an InTenant option, else the context
// (WithTenant, which Middleware sets from MiddlewareConfig.Tenant), else the
// event being handled (Cause.Tenant: what an inbox job records inherits its
// event's tenant). Without one it is refused with ErrNoTenant before
// anything is written; a tenant other than the cause's is refused with
// ErrCrossTenant. Recording stays one statement: the tenant is one more
// parameter of the insert, the throttle function and the bulk unnest, and
// the outbox row carries it.
//
// Every read of a tenanted domain (Feed, Event, EventsByID, CountByAction,
// LastOccurred, Replay, EventsAfter, Count, Retract) is scoped to the
// context's tenant, or to FeedQuery.Tenant / HistoryQuery.Tenant: asking
// without one is ErrNoTenant, never all tenants. Processes that serve every
// tenant (the inbox relay and worker, backfills) say so with AcrossTenants.
// An untenanted domain's SQL is unchanged and ignores the context's tenant.
//
// Optionally, DomainConfig.RowLevelSecurity adds PostgreSQL row-level
// security to the table: a policy keyed on the tidings.tenant setting,
// which SetTenant sets for a transaction; migrations.RowLevelSecuritySQL
// does the same for the library's own tenant tables (outbox,
// notifications, preferences, rules, ...). With it, request handlers
// connect as a role held to the policies and start each transaction with
// SetTenant; the processes that serve every tenant (the relay and worker,
// sweepers, retention, backfills) connect as a role with BYPASSRLS.
// docs/scaling.md says when to use it. UpgradeTenantSQL (and
// cmd/tidings-migration -upgrade-tenant) makes an existing untenanted table
// tenanted. docs/scaling.md shows how the tenanted tables would be
// distributed with Citus, and what in this SQL would change.
//
// # Upgrading an events table
//
// Tables made by an earlier MigrationSQL lack the tags and retraction
// columns and reference their subject ON DELETE CASCADE: UpgradeSQL
// (cmd/tidings-migration -upgrade) adds the columns and, unless the domain
// chose Cascade, drops the foreign key. It does not partition an existing
// table: that needs a new table and a copy (pg_partman's partition_data
// helpers do it in batches).
//
// # Personal data: erasure and export
//
// DomainConfig.PersonalPaths names the paths of extra that hold personal
// data ("email", "author.name"). Domain.Erase masks a Person's data in the
// events table in place (labels become ErasedLabel, IP and user agent
// NULL, personal paths removed, mentions masked) and keeps every event;
// Domain.PersonEvents walks the events a person takes part in, in keyset
// batches. Package privacy composes them with the inbox and workflow
// tables (one call erases or exports a person everywhere).
//
// A person is an identity within a tenant: on a tenanted domain,
// PersonValues, Erase, PersonEvents and PersonCondition reach the context's
// tenant's events only, and without a tenant they are ErrNoTenant, unless
// the context is AcrossTenants (an app whose person ids are global:
// privacy.Config.PersonsAcrossTenants, which also hides the request's
// tenant with WithoutTenant). Domain.ForPerson masks everyone else's
// personal fields in an event handed to a person (an export), with
// erasure's rules.
//
// Package activitytest has assertions for an app's own tests.
package activity
