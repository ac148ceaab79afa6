package activity

// The outbox is how a committed event reaches the fan-out: RecordEvent writes
// one activity_outbox row in the same statement as the event, so the row
// exists if and only if the event committed. The inbox package's relay
// claims these rows (FOR UPDATE SKIP LOCKED), enqueues the jobs, and deletes
// the rows after every enqueue succeeded. Recording never talks to Redis.
const (
	// OutboxTable is the table RecordEvent writes fan-out intents to.
	OutboxTable = "activity_outbox"
	// OutboxChannel is the LISTEN/NOTIFY channel relays are woken on
	// (payload: the domain name): by at most one recording per
	// DomainConfig.WakeInterval per process, never one per event. A
	// wake-up only: relays also poll.
	OutboxChannel = "tidings_outbox"
	// EventIDSequence is the sequence every events table draws IDs from,
	// which makes event IDs unique across domains.
	EventIDSequence = "activity_event_id_seq"
)

// OutboxRow is one pending fan-out intent: an event that committed and has
// not yet been handed to every accepting inbox.
type OutboxRow struct {
	ID        int64
	Domain    string
	EventID   int64
	Action    string
	SubjectID string
	Attempts  int
}
