package inbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// A job that a Redis Cluster master had handed to a worker (active) when
// the master died is, once its replica is promoted, active on the new
// master with nobody running it if its worker died too (a machine that
// took a master and a worker down with it) or lost the master's answer. asynq's recoverer takes
// such a job back only after its lease (30 s) has run out, on a pass once
// a minute: up to about 90 s. River's rescuer works the same way (a job
// running longer than RescueStuckJobsAfter is presumed abandoned), only
// with a longer threshold. Tidings does not wait for a lease: the workers
// say which jobs they are running, and a relay that sees a queue's master
// change asks them, and hands back the active jobs nobody claims.
//
// The workers on a Redis Cluster report, in one Redis hash (HeldKey), the
// task IDs of the jobs they are running, every Config.HeldInterval and
// whenever a relay asks (a census: the relay writes a fresh token in the
// hash's censusField, each worker reads it every HeldInterval/10 and
// answers with its list and the token). The relay's failover check
// (PendingConfig.FailoverCheckInterval) reads the cluster's slot map; when
// the master of one of its queues changed, it reads the queue's active
// list on the new master, then starts a census, and hands back to the
// queue (what asynq itself does with a job at shutdown) each active job of
// its inboxes that has an inbox_pending row (not done) and that no worker
// that answered the census holds. Workers that do not answer within
// censusWait are presumed dead. A worker that was alive but too slow to
// answer may have its job run twice at once; the ledger keeps the effect
// once (as after any redelivery).

// HeldKey is the Redis hash in which the workers of app on a Redis
// Cluster report the jobs they are running (one field per worker), read by
// the relays after a failover.
func HeldKey(app string) string {
	if app == "" {
		return "tidings:held"
	}
	return app + ":tidings:held"
}

const (
	// censusField is HeldKey's field holding the token of the latest census.
	censusField = "#census"
	// censusWait bounds how long a relay waits for the workers' answers.
	censusWait = 2 * time.Second
	// heldStale: a worker whose report is older than this when a census
	// starts is not waited for (it died without removing its report).
	heldStale = 5 * time.Second
	// heldForget: reports older than this are removed by the relay.
	heldForget = time.Minute
	// DefaultHeldInterval is the default Config.HeldInterval.
	DefaultHeldInterval = time.Second
)

// heldReport is one worker's report in HeldKey.
type heldReport struct {
	Census string   `json:"census"` // the census token read before the list was taken
	At     int64    `json:"at"`     // unix milliseconds, the reporter's clock
	Tasks  []string `json:"tasks"`  // task IDs being run
}

// heldTasks is the set of jobs a worker is running.
type heldTasks struct {
	mu  sync.Mutex
	ids map[string]int
}

func (h *heldTasks) add(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids == nil {
		h.ids = map[string]int{}
	}
	h.ids[id]++
}

func (h *heldTasks) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids[id]--; h.ids[id] <= 0 {
		delete(h.ids, id)
	}
}

func (h *heldTasks) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.ids))
	for id := range h.ids {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// isCluster reports whether opt connects to a Redis Cluster.
func isCluster(opt asynq.RedisConnOpt) bool {
	switch opt.(type) {
	case RedisClusterOpt, *RedisClusterOpt, asynq.RedisClusterClientOpt, *asynq.RedisClusterClientOpt:
		return true
	}
	return false
}

// heldReporter reports a worker's jobs until stopped.
type heldReporter struct {
	rdb  redis.UniversalClient
	key  string
	id   string
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// startHeld starts reporting the worker's jobs, on a Redis Cluster unless
// HeldInterval is negative.
func (w *Worker) startHeld() error {
	if w.cfg.HeldInterval < 0 || !isCluster(w.cfg.Redis) {
		return nil
	}
	rdb, err := RedisClient(w.cfg.Redis)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &heldReporter{rdb: rdb, key: HeldKey(w.cfg.App), id: processName(), stop: cancel}
	every := w.cfg.HeldInterval
	poll := max(every/10, 10*time.Millisecond)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(poll)
		defer t.Stop()
		var last time.Time
		lastToken := ""
		for {
			rctx, cancel := context.WithTimeout(ctx, every)
			token, err := rdb.HGet(rctx, h.key, censusField).Result()
			if errors.Is(err, redis.Nil) {
				err = nil
			}
			if err == nil && (token != lastToken || time.Since(last) >= every) {
				// The list is taken after the token is read: a census
				// answered with it holds every job this worker had
				// taken before the census began.
				b, _ := json.Marshal(heldReport{Census: token, At: w.now().UnixMilli(), Tasks: w.held.list()})
				if err = rdb.HSet(rctx, h.key, h.id, b).Err(); err == nil {
					last, lastToken = time.Now(), token
				}
			}
			cancel()
			if err != nil && ctx.Err() == nil {
				w.log.DebugContext(ctx, "inbox: reporting the worker's jobs failed", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	w.heldRep = h
	return nil
}

// stopHeld stops reporting and removes the worker's report: the jobs it
// could not hand back at shutdown are then free for a rescue.
func (w *Worker) stopHeld() {
	h := w.heldRep
	if h == nil {
		return
	}
	w.heldRep = nil
	h.stop()
	h.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = h.rdb.HDel(ctx, h.key, h.id).Err()
	_ = h.rdb.Close()
}

// failoverState is the relay's failover watch.
type failoverState struct {
	rdb       *redis.ClusterClient
	queues    []string
	slot      map[string]int64  // queue -> hash slot
	master    map[string]string // queue -> its master's node ID, as last seen
	due       map[string]bool   // queues whose active jobs are to be checked
	failovers atomic.Int64
	rescued   atomic.Int64
	censuses  atomic.Int64
	deferred  atomic.Int64
}

func (r *Relay) initFailover(rdb redis.UniversalClient) {
	c, ok := rdb.(*redis.ClusterClient)
	if !ok || r.cfg.Pending.FailoverCheckInterval < 0 {
		return
	}
	seen := map[string]bool{}
	for _, rt := range r.routes {
		for _, q := range (Policy{Queue: rt.queue, Shards: rt.shards}).AllQueues() {
			if !seen[q] {
				seen[q] = true
				r.fo.queues = append(r.fo.queues, q)
			}
		}
	}
	sort.Strings(r.fo.queues)
	r.fo.rdb = c
	r.fo.slot = map[string]int64{}
	r.fo.master = map[string]string{}
	r.fo.due = map[string]bool{}
}

func (r *Relay) watchesFailover() bool { return r.fo.rdb != nil }

// failoverLoop runs CheckFailover every FailoverCheckInterval until ctx is
// done.
func (r *Relay) failoverLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.Pending.FailoverCheckInterval)
	defer t.Stop()
	failures := 0
	for {
		_, err := r.CheckFailover(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			if failures == 1 || failures%60 == 0 {
				r.log.LogAttrs(ctx, slog.LevelDebug, "inbox: the Redis Cluster failover check failed; it tries again", slog.Any("error", err), slog.Int("failures", failures))
			}
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckFailover reads the cluster's slot map; when the master of one of
// the relay's queues changed since the last check (a replica promoted,
// a slot moved), and once for every queue at the relay's first check (it
// may start after a failover that took its worker down), it hands back to
// the queue the active jobs of the relay's inboxes that no running worker
// holds (see HeldKey) and returns how many. When another relay is
// rescuing, it returns 0 and no error, and keeps its queues for the next
// check. Run does this every PendingConfig.FailoverCheckInterval on a
// Redis Cluster; CheckFailover is for tests and tools, on a relay that
// does not Run.
func (r *Relay) CheckFailover(ctx context.Context) (int, error) {
	if r.fo.rdb == nil {
		return 0, &ConfigError{Field: "RelayConfig.Redis", Reason: "is not a Redis Cluster (or Pending.Disable is set, or FailoverCheckInterval is negative)"}
	}
	slots, err := r.fo.rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("inbox: read the cluster's slots: %w", err)
	}
	for _, q := range r.fo.queues {
		s, ok := r.fo.slot[q]
		if !ok {
			if s, err = r.fo.rdb.ClusterKeySlot(ctx, activeKey(q)).Result(); err != nil {
				return 0, fmt.Errorf("inbox: hash slot of queue %s: %w", q, err)
			}
			r.fo.slot[q] = s
		}
		id := ""
		for _, sl := range slots {
			if int64(sl.Start) <= s && s <= int64(sl.End) && len(sl.Nodes) > 0 {
				id = sl.Nodes[0].ID
			}
		}
		if id == "" {
			continue // not served now
		}
		if was, seen := r.fo.master[q]; !seen {
			// A relay starting may come after a failover (its worker
			// died with the master): its queues are checked once.
			r.fo.due[q] = true
		} else if was != id {
			r.fo.due[q] = true
			r.fo.failovers.Add(1)
			r.log.LogAttrs(ctx, slog.LevelWarn, "inbox: a queue has a new Redis Cluster master; checking its active jobs",
				slog.String("queue", q), slog.String("was", was), slog.String("now", id))
		}
		r.fo.master[q] = id
	}
	if len(r.fo.due) == 0 {
		return 0, nil
	}
	due := make([]string, 0, len(r.fo.due))
	for q := range r.fo.due {
		due = append(due, q)
	}
	sort.Strings(due)
	n, err := r.rescue(ctx, due)
	if errors.Is(err, errRescueBusy) {
		// Another relay rescues, maybe other queues than these: this one
		// keeps them due and looks again at its next check.
		r.fo.deferred.Add(1)
		return 0, nil
	}
	if err != nil {
		return n, err
	}
	clear(r.fo.due)
	return n, nil
}

// errRescueBusy: another relay holds the rescue lock.
var errRescueBusy = errors.New("inbox: another relay is rescuing")

func activeKey(q string) string { return "asynq:{" + q + "}:active" }

// requeue is asynq's own requeue (its shutdown's hand-back of a running
// job), for asynq's key layout (v0.26): the job leaves active and its
// lease, and goes to the head of its queue.
var requeue = redis.NewScript(`
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then
  return 0
end
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("RPUSH", KEYS[3], ARGV[1])
redis.call("HSET", KEYS[4], "state", "pending")
return 1`)

// rescue hands back the active jobs of queues that no worker holds.
func (r *Relay) rescue(ctx context.Context, queues []string) (int, error) {
	// One relay rescues at a time: the others saw the same failover.
	lock := HeldKey(r.cfg.App) + ":rescue"
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ok, err := r.fo.rdb.SetNX(ctx, lock, token, 2*censusWait+10*time.Second).Result()
	if err != nil {
		return 0, fmt.Errorf("inbox: rescue: take the lock: %w", err)
	}
	if !ok {
		return 0, errRescueBusy
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if v, err := r.fo.rdb.Get(dctx, lock).Result(); err == nil && v == token {
			_ = r.fo.rdb.Del(dctx, lock).Err()
		}
	}()

	// The active jobs first, then the census: a worker that answers it
	// holds every job it had taken before.
	active := map[string][]string{}
	total := 0
	for _, q := range queues {
		ids, err := r.fo.rdb.LRange(ctx, activeKey(q), 0, -1).Result()
		if err != nil {
			return 0, fmt.Errorf("inbox: rescue: read queue %s's active jobs: %w", q, err)
		}
		active[q] = ids
		total += len(ids)
	}
	if total == 0 {
		return 0, nil
	}
	key := HeldKey(r.cfg.App)
	start := time.Now()
	if err := r.fo.rdb.HSet(ctx, key, censusField, token).Err(); err != nil {
		return 0, fmt.Errorf("inbox: rescue: start a census: %w", err)
	}
	defer r.fo.censuses.Add(1)
	held := map[string]bool{}
	for {
		all, err := r.fo.rdb.HGetAll(ctx, key).Result()
		if err != nil {
			return 0, fmt.Errorf("inbox: rescue: read the workers' jobs: %w", err)
		}
		clear(held)
		waiting := 0
		var forget []string
		for field, v := range all {
			if field == censusField {
				continue
			}
			var rep heldReport
			if json.Unmarshal([]byte(v), &rep) != nil {
				continue
			}
			age := start.Sub(time.UnixMilli(rep.At))
			switch {
			case rep.Census == token:
				for _, id := range rep.Tasks {
					held[id] = true
				}
			case age > heldForget:
				forget = append(forget, field)
			case age <= heldStale:
				waiting++
			}
		}
		if len(forget) > 0 {
			_ = r.fo.rdb.HDel(ctx, key, forget...).Err()
		}
		if waiting == 0 || time.Since(start) >= censusWait {
			if waiting > 0 {
				r.log.LogAttrs(ctx, slog.LevelWarn, "inbox: rescue: some workers did not answer the census; presumed dead",
					slog.Int("workers", waiting))
			}
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}

	// Stranded: active, held by nobody, ours, not done.
	type cand struct {
		queue, id string
		ref       activity.EventRef
		inbox     string
	}
	var cands []cand
	var ds, is pgarray.Text
	var es pgarray.Int8
	for _, q := range queues {
		for _, id := range active[q] {
			if held[id] {
				continue
			}
			name, ref, err := ParseTaskID(id)
			if err != nil || r.pending.byName[name] == nil || AppTaskID(r.cfg.App, name, ref) != id {
				continue
			}
			cands = append(cands, cand{queue: q, id: id, ref: ref, inbox: name})
			ds, es, is = append(ds, ref.Domain), append(es, ref.ID), append(is, name)
		}
	}
	if len(cands) == 0 {
		return 0, nil
	}
	var rows []struct {
		Domain  string
		EventID int64
		Inbox   string
	}
	if err := r.db.WithContext(ctx).Raw(`SELECT p.domain, p.event_id, p.inbox FROM `+PendingTable+` p
JOIN unnest(?::text[], ?::bigint[], ?::text[]) AS k(d, e, i) ON p.domain = k.d AND p.event_id = k.e AND p.inbox = k.i`, ds, es, is).Scan(&rows).Error; err != nil {
		return 0, fmt.Errorf("inbox: rescue: read pending deliveries: %w", err)
	}
	pending := map[string]bool{}
	for _, p := range rows {
		pending[AppTaskID(r.cfg.App, p.Inbox, activity.EventRef{Domain: p.Domain, ID: p.EventID})] = true
	}
	n := 0
	for _, c := range cands {
		if !pending[c.id] {
			continue
		}
		prefix := "asynq:{" + c.queue + "}:"
		moved, err := requeue.Run(ctx, r.fo.rdb, []string{prefix + "active", prefix + "lease", prefix + "pending", prefix + "t:" + c.id}, c.id).Int()
		if err != nil {
			return n, fmt.Errorf("inbox: rescue: hand back task %s: %w", c.id, err)
		}
		n += moved
	}
	r.fo.rescued.Add(int64(n))
	if n > 0 {
		r.log.LogAttrs(ctx, slog.LevelWarn, "inbox: handed back jobs that were active on a failed Redis Cluster master and that no worker holds",
			slog.Int("jobs", n), slog.Any("queues", queues), slog.Duration("census", time.Since(start)))
	}
	return n, nil
}
