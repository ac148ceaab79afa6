package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/rediscluster"
)

// clusterFaultFigures: a worker runs deliveries (its handler blocks, so
// they stay active on the Redis Cluster master that owns their queue),
// then the worker's process and that master die together (SIGKILL both:
// a machine that took them down), and the master's replica promotes
// itself (cluster-node-timeout 500ms). Another worker, started before the
// kill and running the same inbox, is left. Resume is the time from the
// master's kill to the last stranded delivery done by the survivor: its
// relay sees the queue's new master (FailoverCheckInterval, 500ms), asks
// the workers which jobs they hold (the dead one's report is recent, so
// the census waits its 2s for it), and hands the jobs nobody holds back
// to the queue. As in faults_redis.go the clock starts at the fault; the
// issue's 5 s bound counts from the cluster answering again (the replica
// promoted), so the max row is timed from there. Floors measured in the
// same runs: the failover itself (the master's kill to its replica saying
// it is master), and, at -scale 1 and above, one run of the same
// stranding without the rescue (the survivor's relay does not watch for
// failovers): the jobs then come back through asynq's recoverer (a 30 s
// lease, a pass once a minute).
func clusterFaultFigures(ctx context.Context, b *bench) ([]figure, error) {
	runs := b.size(5, 1)
	jobs := b.size(20, 3)
	b.logf("faults: a Redis Cluster master and a worker die with %d deliveries active, %d runs", jobs, runs)
	var resume, fromPromotion, failover []time.Duration
	for run := range runs {
		r, err := clusterFaultRun(ctx, b, run, jobs, true)
		if err != nil {
			return nil, err
		}
		resume, failover = append(resume, r.resume), append(failover, r.failover)
		fromPromotion = append(fromPromotion, r.resume-r.failover)
		b.logf("faults: run %d: all %d stranded deliveries %v after the master's kill (promotion after %v; %d handed back)",
			run+1, jobs, r.resume.Round(time.Millisecond), r.failover.Round(time.Millisecond), r.rescued)
	}
	p50, worst := percentile(resume, 50), percentile(resume, 100)
	pp50, pmax := percentile(fromPromotion, 50), percentile(fromPromotion, 100)
	fp50, fmax := percentile(failover, 50), percentile(failover, 100)
	figs := []figure{
		{Name: "time to resume after a Redis Cluster master dies with deliveries active on it, p50, vs the cluster's failover (kill to replica promoted)", Unit: "ms", Ours: ms(p50), Baseline: ms(fp50), Target: target{Max: ms((fmax + redisLossBound).Round(time.Millisecond))}},
		{Name: "time to resume after a Redis Cluster master dies, max, from the replica's promotion, vs the 5 s bound", Unit: "ms", Ours: ms(pmax), Baseline: ms(redisLossBound), Target: target{MaxRatio: 1}},
	}
	recoverer := ""
	if b.scale >= 1 {
		r, err := clusterFaultRun(ctx, b, runs, jobs, false)
		if err != nil {
			return nil, err
		}
		b.logf("faults: without the rescue: all %d stranded deliveries %v after the master's kill (promotion after %v)", jobs, r.resume.Round(time.Millisecond), r.failover.Round(time.Millisecond))
		recoverer = fmt.Sprintf(" Without the rescue (one run, the survivor's relay not watching for failovers): %.0f ms from the kill, through asynq's recoverer (a 30 s lease, a pass once a minute, then the inbox's first backoff).", ms(r.resume))
		figs = append(figs, figure{Name: "time to resume after a Redis Cluster master dies, max, vs the same stranding without the rescue (asynq's recoverer, one run)", Unit: "ms", Ours: ms(worst), Baseline: ms(r.resume), Target: target{MaxRatio: 0.5}})
	}
	b.note("faults: a Redis Cluster (3 masters, 3 replicas, cluster-node-timeout 500ms) whose master of the queue dies (SIGKILL) with a worker process (SIGKILL) that had %d deliveries active on it; another worker runs the same inbox; %d runs, a new cluster each; resume = the master's kill to the last stranded delivery done by the other worker, p50 %.0f ms, max %.0f ms; from the replica's promotion p50 %.0f ms, max %.0f ms; the failover itself (kill to promotion) p50 %.0f ms, max %.0f ms. The relay checks the queue's master every 500ms (FailoverCheckInterval); the census waits up to 2s for the dead worker's answer, its report being recent.%s",
		jobs, runs, ms(p50), ms(worst), ms(pp50), ms(pmax), ms(fp50), ms(fmax), recoverer)
	return figs, nil
}

// clusterRun is one master's death: the kill to the last stranded
// delivery, the kill to the replica's promotion, and the jobs the
// survivor's relay handed back.
type clusterRun struct {
	resume, failover time.Duration
	rescued          int64
}

// clusterFaultRun strands jobs on a new cluster's master and kills it
// with their worker; rescue false turns the survivor's failover check off.
func clusterFaultRun(ctx context.Context, b *bench, run, jobs int, rescue bool) (clusterRun, error) {
	var res clusterRun
	if err := clearOutbox(ctx, b); err != nil {
		return res, err
	}
	if err := b.db.WithContext(ctx).Exec(`TRUNCATE ` + inbox.PendingTable).Error; err != nil {
		return res, err
	}
	cl, err := rediscluster.Start(ctx, rediscluster.Config{})
	if err != nil {
		return res, err
	}
	defer cl.Close()
	opt := inbox.RedisClusterOpt{Addrs: cl.Addrs()}
	name := fmt.Sprintf("bench-cluster-%d-%d", time.Now().UnixNano(), run)

	victim, err := startClusterVictim(ctx, b.dsn, cl.Addrs(), name, jobs)
	if err != nil {
		return res, err
	}
	defer victim.kill()
	if err := recordLabels(ctx, b, jobs); err != nil {
		return res, err
	}
	if err := victim.waitHeld(jobs, time.Minute); err != nil {
		return res, err
	}

	c := &lossCounter{name: name, seen: map[int64]bool{}}
	done := c.expect(jobs)
	relay := inbox.RelayConfig{PollInterval: 50 * time.Millisecond}
	if !rescue {
		relay.Pending.FailoverCheckInterval = -1
	}
	w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: opt, Domains: []*activity.Domain{b.issues}, Inboxes: []inbox.Inbox{c}, Relay: relay, Logger: quietLogger()})
	if err != nil {
		return res, err
	}
	if err := w.Start(ctx); err != nil {
		return res, err
	}
	defer w.Shutdown()
	if rescue {
		// The survivor's first check takes a census while the victim holds
		// its jobs: it must hand back none.
		for deadline := time.Now().Add(30 * time.Second); w.Relay().SweepStats().Censuses < 1; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("faults: the surviving relay's first census did not end within 30s (%+v)", w.Relay().SweepStats())
			}
		}
		if st := w.Relay().SweepStats(); st.Rescued != 0 {
			return res, fmt.Errorf("faults: the surviving relay handed back %d jobs a live worker held (%+v)", st.Rescued, st)
		}
	}

	queue := inbox.AppQueue("", inbox.DefaultQueue)
	master, err := cl.MasterOf(ctx, "asynq:{"+queue+"}:active")
	if err != nil {
		return res, err
	}
	replica, err := cl.ReplicaOf(ctx, master)
	if err != nil {
		return res, err
	}
	// The replica has every job the master had.
	if err := cl.WaitReplicated(ctx, master, 10*time.Second); err != nil {
		return res, err
	}
	victim.kill() // first: it cannot hand its jobs back at all
	start := time.Now()
	cl.Kill(master)
	type promotion struct {
		after time.Duration
		err   error
	}
	promoted := make(chan promotion, 1)
	go func() {
		err := cl.WaitMaster(ctx, replica, time.Minute)
		promoted <- promotion{time.Since(start), err}
	}()
	wait := time.Minute
	if !rescue {
		wait = 4 * time.Minute
	}
	if err := waitDone(ctx, done, wait, fmt.Sprintf("the %d deliveries stranded on the dead master", jobs)); err != nil {
		return res, fmt.Errorf("%w (survivor's sweeper %+v)", err, w.Relay().SweepStats())
	}
	res.resume = time.Since(start)
	p := <-promoted
	if p.err != nil {
		return res, p.err
	}
	res.failover = p.after
	st := w.Relay().SweepStats()
	res.rescued = st.Rescued
	if rescue && st.Rescued != int64(jobs) {
		return res, fmt.Errorf("faults: the surviving relay handed back %d of the %d stranded jobs (%+v)", st.Rescued, jobs, st)
	}
	return res, nil
}

// The victim worker is a process of its own (the bench binary run again
// with these variables set), so that it dies as a machine would: SIGKILL,
// without handing its jobs back or removing its report of them.
const (
	clusterChildEnv = "TIDINGS_BENCH_CLUSTER_CHILD" // the victim's DSN
	clusterAddrsEnv = "TIDINGS_BENCH_CLUSTER_ADDRS" // the cluster's nodes, comma-separated
	clusterInboxEnv = "TIDINGS_BENCH_CLUSTER_INBOX" // the inbox's name
	clusterJobsEnv  = "TIDINGS_BENCH_CLUSTER_JOBS"  // its concurrency: the jobs it takes and holds
)

// clusterChildMain runs the victim worker when the environment asks for
// it and reports true; otherwise it reports false at once. main and
// TestMain call it first. The worker prints "ready" once started and
// "held ID" for each delivery it takes (it never finishes one), and stops
// when its stdin ends.
func clusterChildMain() bool {
	dsn := os.Getenv(clusterChildEnv)
	if dsn == "" {
		return false
	}
	jobs, _ := strconv.Atoi(os.Getenv(clusterJobsEnv))
	if err := clusterChild(context.Background(), dsn, strings.Split(os.Getenv(clusterAddrsEnv), ","), os.Getenv(clusterInboxEnv), jobs, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cluster victim:", err)
		os.Exit(1)
	}
	return true
}

func clusterChild(ctx context.Context, dsn string, addrs []string, name string, jobs int, in io.Reader, out io.Writer) error {
	db, err := openGorm(dsn, 4)
	if err != nil {
		return err
	}
	h := &holdInbox{name: name, out: out}
	w, err := inbox.NewWorker(inbox.Config{DB: db, Redis: inbox.RedisClusterOpt{Addrs: addrs}, Domains: []*activity.Domain{newIssueDomain()},
		Inboxes: []inbox.Inbox{h}, Concurrency: jobs, ShutdownTimeout: 100 * time.Millisecond,
		Relay: inbox.RelayConfig{PollInterval: 50 * time.Millisecond}, Logger: quietLogger()})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	h.say("ready")
	_, _ = io.Copy(io.Discard, in)
	w.Shutdown()
	return nil
}

// holdInbox takes label_added deliveries, says so, and holds each until
// its worker stops.
type holdInbox struct {
	name string
	mu   sync.Mutex
	out  io.Writer
}

func (h *holdInbox) say(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintln(h.out, line)
}

func (h *holdInbox) Name() string                  { return h.name }
func (h *holdInbox) Accepts(_, action string) bool { return action == "label_added" }
func (h *holdInbox) Process(ctx context.Context, d *inbox.Delivery) error {
	h.say(fmt.Sprintf("held %d", d.Event.ID))
	<-ctx.Done()
	return ctx.Err()
}

// clusterVictim is the parent's handle on the victim process.
type clusterVictim struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr strings.Builder
	once   sync.Once
}

// startClusterVictim runs the bench binary as the victim and waits for
// it to say it started.
func startClusterVictim(ctx context.Context, dsn string, addrs []string, name string, jobs int) (*clusterVictim, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	v := &clusterVictim{lines: make(chan string, jobs+1)}
	v.cmd = exec.CommandContext(ctx, exe, "-test.run=^$") // a test binary runs no tests; the bench ignores it (see clusterChildMain)
	v.cmd.Env = append(os.Environ(), clusterChildEnv+"="+dsn, clusterAddrsEnv+"="+strings.Join(addrs, ","),
		clusterInboxEnv+"="+name, clusterJobsEnv+"="+strconv.Itoa(jobs))
	v.cmd.Stderr = &v.stderr
	if v.stdin, err = v.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := v.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := v.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(v.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			v.lines <- sc.Text()
		}
	}()
	select {
	case l := <-v.lines:
		if l == "ready" {
			return v, nil
		}
		v.kill()
		return nil, fmt.Errorf("faults: the cluster victim did not start: %q %s", l, v.stderr.String())
	case <-time.After(time.Minute):
		v.kill()
		return nil, errors.New("faults: the cluster victim did not start within a minute")
	}
}

// waitHeld waits until the victim holds n distinct deliveries.
func (v *clusterVictim) waitHeld(n int, timeout time.Duration) error {
	held := map[string]bool{}
	deadline := time.After(timeout)
	for len(held) < n {
		select {
		case l, ok := <-v.lines:
			if !ok {
				return fmt.Errorf("faults: the cluster victim ended holding %d of %d: %s", len(held), n, v.stderr.String())
			}
			if id, ok := strings.CutPrefix(l, "held "); ok {
				held[id] = true
			}
		case <-deadline:
			return fmt.Errorf("faults: the cluster victim holds %d jobs after %v, want %d", len(held), timeout, n)
		}
	}
	return nil
}

// kill kills the victim (SIGKILL) and waits for it to exit.
func (v *clusterVictim) kill() {
	v.once.Do(func() {
		_ = v.cmd.Process.Kill()
		_ = v.cmd.Wait()
	})
}
