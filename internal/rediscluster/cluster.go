// Package rediscluster starts a Redis Cluster of a test's (or the bench's)
// own on loopback: 3 masters and 3 replicas (redis-server
// --cluster-enabled yes, joined by redis-cli --cluster create), keeping
// nothing but their cluster config in a temporary directory, and kills and
// fails over its nodes. Tests call StartT, which skips when redis-server or
// redis-cli is missing; programs call Start.
package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotInstalled is returned by Start when redis-server or redis-cli is
// not installed.
var ErrNotInstalled = errors.New("rediscluster: redis-server and redis-cli are needed")

// Config configures Start. Zero fields take the defaults.
type Config struct {
	// Dir keeps the nodes' cluster config and logs. Default a new
	// temporary directory, removed by Close.
	Dir string
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before its replica is promoted on its own. Default
	// 500ms; set it long (a minute) to promote by hand (Takeover) only.
	NodeTimeout time.Duration
}

// Cluster is a running local cluster.
type Cluster struct {
	// Ports are the nodes' ports; cluster bus ports are 10000 above.
	Ports  []int
	dir    string
	rmDir  bool
	mu     sync.Mutex
	procs  map[int]*proc
	closed bool
}

// watchdog runs redis-server ("$@") and kills it when its stdin reaches
// end of file: when the program closes the pipe (kill) or ends in any way.
const watchdog = `redis-server "$@" &
pid=$!
exec >/dev/null 2>&1
read -r _ || :
kill -9 "$pid" 2>/dev/null
wait "$pid"
exit 0`

type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func (p *proc) kill() {
	_ = p.stdin.Close()
	_ = p.cmd.Wait()
}

// DirEnv names a directory under which StartT keeps each cluster's
// config and logs (in a new subdirectory), for reading after a failure;
// unset, they are removed with the test's temporary directory.
const DirEnv = "TIDINGS_TEST_CLUSTER_DIR"

// StartT starts a cluster for a test and stops it at the test's end; it
// skips the test when redis-server or redis-cli is not installed.
func StartT(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
		if d := os.Getenv(DirEnv); d != "" {
			// Keeps the nodes' logs after the test.
			dir, err := os.MkdirTemp(d, "cluster-")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Dir = dir
		}
	}
	c, err := Start(context.Background(), cfg)
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Start starts 6 nodes on free ports, joins them as 3 masters with one
// replica each, and returns once the cluster is ok and every replica is in
// sync.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, ErrNotInstalled
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, ErrNotInstalled
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = 500 * time.Millisecond
	}
	c := &Cluster{dir: cfg.Dir, procs: map[int]*proc{}}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "rediscluster-"); err != nil {
			return nil, err
		}
		c.rmDir = true
	}
	fail := func(err error) (*Cluster, error) {
		c.Close()
		return nil, err
	}
	for range 6 {
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		p, err := c.spawn(port, cfg.NodeTimeout)
		if err != nil {
			return fail(err)
		}
		c.Ports = append(c.Ports, port)
		c.procs[port] = p
	}
	for _, p := range c.Ports {
		if err := waitFor(ctx, 10*time.Second, fmt.Sprintf("node %d to answer", p), func() bool { return c.do(ctx, p, "PING") == nil }); err != nil {
			return fail(err)
		}
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("rediscluster: redis-cli --cluster create: %v\n%s", err, out))
	}
	for _, p := range c.Ports {
		if err := waitFor(ctx, 20*time.Second, "the cluster to be ok", func() bool {
			s, err := c.text(ctx, p, "CLUSTER", "INFO")
			return err == nil && strings.Contains(s, "cluster_state:ok")
		}); err != nil {
			return fail(err)
		}
	}
	for _, p := range c.Ports {
		if err := waitFor(ctx, 20*time.Second, "the replicas to sync", func() bool {
			s, err := c.text(ctx, p, "INFO", "replication")
			return err == nil && (strings.Contains(s, "role:master") || strings.Contains(s, "master_link_status:up"))
		}); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

func (c *Cluster) spawn(port int, nodeTimeout time.Duration) (*proc, error) {
	cmd := exec.Command("sh", "-c", watchdog, "rediscluster-watchdog",
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(c.dir, fmt.Sprintf("nodes-%d.conf", port)),
		"--cluster-node-timeout", fmt.Sprint(nodeTimeout.Milliseconds()), "--repl-diskless-sync-delay", "0",
		"--dir", c.dir, "--logfile", filepath.Join(c.dir, fmt.Sprintf("%d.log", port)))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd: cmd, stdin: stdin}, nil
}

// Addrs are the nodes' host:port.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Ports))
	for i, p := range c.Ports {
		out[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	return out
}

// Close kills every node.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for _, p := range c.procs {
		p.kill()
	}
	if c.rmDir {
		_ = os.RemoveAll(c.dir)
	}
}

// Kill kills the node on port (SIGKILL) and waits for it to exit.
func (c *Cluster) Kill(port int) {
	c.mu.Lock()
	p := c.procs[port]
	delete(c.procs, port)
	c.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// MasterOf returns the port of the master serving key's hash slot, as
// the node on another port sees it.
func (c *Cluster) MasterOf(ctx context.Context, key string) (int, error) {
	for _, p := range c.live() {
		n := c.client(p)
		slot, err := n.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			n.Close()
			continue
		}
		slots, err := n.ClusterSlots(ctx).Result()
		n.Close()
		if err != nil {
			continue
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
				return portOf(s.Nodes[0].Addr)
			}
		}
	}
	return 0, fmt.Errorf("rediscluster: no node says which master serves %q", key)
}

// ReplicaOf returns the port of a replica of the master on port.
func (c *Cluster) ReplicaOf(ctx context.Context, port int) (int, error) {
	s, err := c.text(ctx, port, "CLUSTER", "MYID")
	if err != nil {
		return 0, err
	}
	id := strings.TrimSpace(s)
	for _, p := range c.live() {
		if p == port {
			continue
		}
		nodes, err := c.text(ctx, p, "CLUSTER", "NODES")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(nodes, "\n") {
			if f := strings.Fields(l); len(f) > 3 && f[3] == id {
				addr, _, _ := strings.Cut(f[1], "@")
				return portOf(addr)
			}
		}
	}
	return 0, fmt.Errorf("rediscluster: no replica of the master on port %d", port)
}

// Takeover promotes the replica on port at once (CLUSTER FAILOVER
// TAKEOVER: without its master's agreement or the others' vote) and
// returns once the replica says it is a master.
func (c *Cluster) Takeover(ctx context.Context, port int) error {
	if err := c.do(ctx, port, "CLUSTER", "FAILOVER", "TAKEOVER"); err != nil {
		return fmt.Errorf("rediscluster: CLUSTER FAILOVER TAKEOVER on %d: %w", port, err)
	}
	return c.WaitMaster(ctx, port, 10*time.Second)
}

// WaitMaster waits until the node on port says it is a master.
func (c *Cluster) WaitMaster(ctx context.Context, port int, timeout time.Duration) error {
	return waitFor(ctx, timeout, fmt.Sprintf("node %d to be a master", port), func() bool {
		s, err := c.text(ctx, port, "ROLE")
		return err == nil && strings.HasPrefix(s, "master")
	})
}

// WaitReplicated waits until a replica of the master on port has
// acknowledged every write the master had made when it was called (a
// replica acknowledges once a second): a kill of the master after it
// loses none of them.
func (c *Cluster) WaitReplicated(ctx context.Context, port int, timeout time.Duration) error {
	s, err := c.bulk(ctx, port, "INFO", "replication")
	if err != nil {
		return err
	}
	target, ok := infoField(s, "master_repl_offset")
	if !ok {
		return fmt.Errorf("rediscluster: node %d reports no master_repl_offset", port)
	}
	want, _ := strconv.ParseInt(target, 10, 64)
	return waitFor(ctx, timeout, fmt.Sprintf("a replica of node %d to acknowledge offset %d", port, want), func() bool {
		s, err := c.bulk(ctx, port, "INFO", "replication")
		if err != nil {
			return false
		}
		for _, l := range strings.Split(s, "\n") {
			// slave0:ip=127.0.0.1,port=P,state=online,offset=N,lag=0
			if !strings.HasPrefix(l, "slave") || len(l) < 6 || l[5] < '0' || l[5] > '9' {
				continue
			}
			for _, kv := range strings.Split(strings.TrimSpace(l[strings.IndexByte(l, ':')+1:]), ",") {
				if v, ok := strings.CutPrefix(kv, "offset="); ok {
					if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= want {
						return true
					}
				}
			}
		}
		return false
	})
}

// infoField returns field's value in an INFO reply.
func infoField(info, field string) (string, bool) {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), field+":"); ok {
			return v, true
		}
	}
	return "", false
}

// bulk runs a command whose reply is one text.
func (c *Cluster) bulk(ctx context.Context, port int, args ...any) (string, error) {
	v, err := c.cmd(ctx, port, args...)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(v), nil
}

func (c *Cluster) live() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, p := range c.Ports {
		if c.procs[p] != nil {
			out = append(out, p)
		}
	}
	return out
}

func (c *Cluster) client(port int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1, DialTimeout: time.Second})
}

func (c *Cluster) do(ctx context.Context, port int, args ...any) error {
	_, err := c.cmd(ctx, port, args...)
	return err
}

func (c *Cluster) cmd(ctx context.Context, port int, args ...any) (any, error) {
	n := c.client(port)
	defer n.Close()
	return n.Do(ctx, args...).Result()
}

// text runs a command and returns its reply as text (the first element of
// an array reply).
func (c *Cluster) text(ctx context.Context, port int, args ...any) (string, error) {
	v, err := c.cmd(ctx, port, args...)
	if err != nil {
		return "", err
	}
	if a, ok := v.([]any); ok && len(a) > 0 {
		v = a[0]
	}
	return fmt.Sprint(v), nil
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// freePort returns a free loopback port at most 55535 whose cluster bus
// port (10000 above) is free too.
func freePort() (int, error) {
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port > 55535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, errors.New("rediscluster: no free port at or below 55535 with a free bus port")
}

func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("rediscluster: timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
