// Package jsoncase holds one test, and nothing else: every JSON shape the
// library emits (events, CloudEvents, exports, the notification API and
// stream, health, the worker status in Redis, rules, run results, batch
// tasks, stored snapshots) uses snake_case keys.
//
// The test finds the shapes itself: it type-checks every library package
// (everything but cmd/, tests and test fakes), takes the static type of
// each value handed to json.Marshal, json.MarshalIndent or an Encoder's
// Encode, and walks it (struct fields, pointers, slices, maps, embedded
// structs) to every struct field encoding/json would write. Each must have
// a json tag naming it in snake_case, or "-". A type with its own
// MarshalJSON is its own shape: its encoder is tested where it lives
// (activity.Event's and the CloudEvent's round trips). A new struct handed
// to json without tags fails the test, naming the field and the call.
package jsoncase
