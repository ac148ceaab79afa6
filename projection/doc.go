// Package projection keeps app tables folded from the event log, and
// rebuilds them from it: Kickstarter's "replay events to backfill a new
// column", with a checkpoint.
//
// A Projector is the app's code: Apply folds one event into its tables,
// Reset empties them. A Projection runs it two ways at once:
//
//   - Live: the Projection is an inbox (name "projection.<name>"): give it
//     to the worker, and each committed event it accepts reaches Apply
//     through the fan-out.
//   - Rebuild: Reset, then every event of its domains, oldest ID first,
//     replayed in batches from a checkpoint stored with each batch (Resume
//     continues after a crash).
//
// # Exactly once, and no event lost across a rebuild
//
// The checkpoint is the projections row and the projection_applied table
// (one row per event the current generation applied), written in the same
// transaction as the projector's own changes: an event's state and its
// record commit together, so a retried job or a replay that meets an event
// already applied skips it. A live application holds the projections row
// FOR SHARE; Rebuild's reset, each replay batch and a retraction's revert
// hold it FOR UPDATE, so none of them interleaves with an application in
// flight. Rebuild moves the generation on: live events delivered during
// the rebuild are applied into it at once, the replay skips them, and
// events the replay reads first are skipped by their live delivery. Every
// committed event is either replayed (it committed before the replay read
// its ID) or delivered live (the fan-out hands every committed event over
// once the projection is an inbox of the worker), and applied once either
// way; the switch back to live is the last replay batch. Apply must not
// depend on the order of events (counts, maxima, sets), as the fan-out
// keeps none.
//
// # Retractions
//
// activity.Domain.Retract marks events retracted and records a
// "*_retracted" event naming them. The projection accepts those: under the
// exclusive lock it removes the retracted events from the applied set and
// calls Revert (Reverter) for each it had applied, or, for a projector
// without Revert, rebuilds. A live application after the retraction
// committed sees it (its retraction check runs after it got the shared
// lock) and skips the event, and a rebuild skips retracted events.
//
// # First use on an existing log
//
// A new projection applies live events from the moment the worker runs
// it; call Rebuild once to fold the history before that.
//
// # Tables
//
// projections and projection_applied come with the library's migrations
// (00006_history.sql); the projector's tables are the app's.
package projection
