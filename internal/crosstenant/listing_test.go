package crosstenant_test

import (
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tidingsdev/tidings/migrations"
)

// covered holds the library calls the suite's cases made as tenant A on
// tenant B's data (cover), by the names tenantCalls gives them.
var covered sync.Map

// cover records that the case calling it calls each of fns (a function, a
// method expression like (*workflow.Rules).PruneRuns, or a method value
// like w.rules.PruneRuns) as tenant A on tenant B's data, and checks what
// comes back and that no row of B changed. The compiler checks the names.
func cover(fns ...any) {
	for _, fn := range fns {
		covered.Store(callName(fn), true)
	}
}

var (
	methodValueSuffix = regexp.MustCompile(`-fm$`)
	typeArgs          = regexp.MustCompile(`\[[^\]]*\]`)
)

// callName returns fn's name as tenantCalls writes it:
// "github.com/tidingsdev/tidings/workflow.Rules.PruneRuns".
func callName(fn any) string {
	name := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	name = methodValueSuffix.ReplaceAllString(name, "")
	name = typeArgs.ReplaceAllString(name, "")
	return strings.NewReplacer("(*", "", ")", "").Replace(name)
}

// operatorCalls are the exported calls that run SQL on tenant tables for
// every tenant on purpose: retention and maintenance, each named so
// (...AllTenants, Maintain, Migrate), and the processes that serve every
// tenant, named by what they are (the relay, the worker, the rule engine,
// the flushers, health checks). They run as a role exempt from row-level
// security (see package migrations, Row-level security); none may be
// called for a tenant's request.
var operatorCalls = map[string]string{
	"inbox.PruneDeliveriesAllTenants":      "retention of the deliveries ledger",
	"inbox.Ledger.PruneAllTenants":         "retention of the deliveries ledger",
	"inbox/notify.PruneAllTenants":         "retention of notifications",
	"inbox/email.PruneAllTenants":          "retention of digests and escalations",
	"inbox/email.Inbox.PruneAllTenants":    "retention of one inbox's digests and escalations",
	"inbox/batch.Batcher.OpenAllTenants":   "metrics: the open windows of every tenant",
	"workflow.Rules.SealSecretsAllTenants": "maintenance: seals every tenant's rule secrets once",
	"workflow.PruneRunLogAllTenants":       "retention of the run log",
	// Migrations: the events tables' DDL.
	"tidings.Migrate": "migrations",
	// A table's maintenance: partitions ahead, and the expired events of
	// every tenant (a partition holds every tenant's).
	"activity.Domain.Maintain": "maintenance of a domain's events table",
	// The relay and the worker serve every tenant: they move each
	// event's outbox row to its jobs, whatever its tenant.
	"inbox.Relay.Drain":     "the relay",
	"inbox.Relay.RelayOnce": "the relay",
	"inbox.Relay.Run":       "the relay",
	"inbox.Worker.Run":      "the worker (with its relay)",
	"inbox.Worker.Start":    "the worker (with its relay)",
	// The engine's rule cache holds every tenant's rules; each event is
	// matched against its own tenant's (the workflow case's Match).
	"workflow.Engine.Refresh": "the rule engine",
	"workflow.Engine.Run":     "the rule engine",
	"workflow.NewEngine":      "the rule engine",
	// The flushers claim the due windows and digests of every tenant and
	// deliver each under its own tenant (the batching case's FlushWindow).
	"inbox/batch.Batcher.Flush": "the batch flusher",
	"inbox/batch.Batcher.Run":   "the batch flusher",
	"inbox/batch.Handler":       "the batch flusher",
	// A probe that finds a sink answering makes the windows held for it
	// due, whatever their tenant (the breaker is the sink's, not a
	// tenant's); each is then flushed under its own tenant.
	"inbox/batch.New":                      "the batch flusher (release on probe)",
	"inbox/batch.Batcher.UseBreakerIfNone": "the batch flusher (release on probe)",
	"inbox/email.Inbox.Flush":              "the digest flusher",
	// The same release for the escalations and old-table digests an email
	// inbox's Flush sends (email.Inbox.UseWorkerBreaker).
	"inbox/email.Inbox.UseWorkerBreaker": "the digest flusher (release on probe)",
	"inbox/email.Inbox.RunFlush":         "the digest flusher",
	// The same flush, as the periodic task tidings.Client schedules.
	"inbox/email.Inbox.Periodic": "the digest flusher (scheduled by the client)",
	// Health checks read the outbox's lag across tenants.
	"observe.NewHealth": "health",
}

// awaitingCase are calls found by the scan that no case covers yet, each
// with what it is scoped by. The list may only shrink: a call added to the
// library gets a case (cover) or, if it serves every tenant on purpose, a
// name that says so and a line in operatorCalls.
var awaitingCase = map[string]string{}

// checkEveryCallCovered fails naming every exported call that runs SQL
// on a tenant table (tenantCalls) with neither a case (cover) nor a line
// in operatorCalls or awaitingCase, and every line of those that names no
// such call any more.
func checkEveryCallCovered(t *testing.T) {
	t.Helper()
	tables := migrations.TenantTables()
	calls, err := tenantCalls("../..", tables)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 50 {
		t.Fatalf("the scan found only %d calls on the tenant tables %v: it no longer sees them", len(calls), tables)
	}
	// Names in the lists drop the module path: "workflow.Rules.PruneRuns",
	// and "tidings.Migrate" for the module's root package.
	short := func(name string) string {
		if rest, ok := strings.CutPrefix(name, modulePath+"."); ok {
			return "tidings." + rest
		}
		return strings.TrimPrefix(name, modulePath+"/")
	}
	full := func(name string) string {
		if rest, ok := strings.CutPrefix(name, "tidings."); ok {
			return modulePath + "." + rest
		}
		return modulePath + "/" + name
	}
	var names []string
	for name := range calls {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, ok := covered.Load(name); ok {
			continue
		}
		if _, ok := operatorCalls[short(name)]; ok {
			continue
		}
		if _, ok := awaitingCase[short(name)]; ok {
			continue
		}
		t.Errorf("%s runs SQL on a tenant table (%s) but no cross-tenant case covers it: add a case that calls it as tenant A on tenant B's data and cover(...) it, or, if it serves every tenant on purpose, name it so (...AllTenants) and list it in operatorCalls",
			short(name), calls[name])
	}
	for _, list := range []map[string]string{operatorCalls, awaitingCase} {
		for name := range list {
			if _, ok := calls[full(name)]; !ok {
				t.Errorf("%s is listed, but the scan finds no such call on a tenant table: remove its line", name)
			}
			if _, ok := covered.Load(full(name)); ok {
				t.Errorf("%s is listed, but a case covers it: remove its line", name)
			}
		}
	}
}
