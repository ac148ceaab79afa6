// Package pgprivate runs a PostgreSQL cluster of a caller's own: initdb
// into a temporary directory, the server on a free loopback port, trust
// auth, nothing shared. Fault tests and cmd/bench restart it at will; the
// shared server at 5432 is never touched.
//
// The binaries are found under /usr/lib/postgresql/<version>/bin (the
// highest version there, Debian's layout) or on PATH; ErrNotInstalled when
// neither has initdb. As root (initdb refuses to run as root) the cluster
// is made and run as the postgres user.
package pgprivate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled is returned by Start when no initdb is found.
var ErrNotInstalled = errors.New("pgprivate: PostgreSQL's server binaries (initdb, pg_ctl) are not installed")

// Config configures Start. Zero fields take the defaults.
type Config struct {
	// MaxConnections is the server's max_connections. Default 100.
	MaxConnections int
	// Settings are more server settings (-c name=value), for example
	// "fsync": "off".
	Settings map[string]string
}

// Server is a running private cluster.
type Server struct {
	// Port is the server's loopback TCP port.
	Port int
	// Dir holds the cluster (data/) and its socket; removed by Stop.
	Dir string

	bin  string
	cred *syscall.Credential
	opts string
}

// Start makes a cluster in a new temporary directory and starts its
// server. Stop it with Stop.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tidings-pgprivate-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgprivate: running as root, and initdb refuses root: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := s.run(ctx, "initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgprivate: initdb: %w: %s", err, out)
	}
	maxConn := cfg.MaxConnections
	if maxConn == 0 {
		maxConn = 100
	}
	settings := map[string]string{"max_connections": strconv.Itoa(maxConn)}
	for k, v := range cfg.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s.opts += fmt.Sprintf(" -c %s=%s", k, settings[k])
	}
	// A port free a moment ago may be taken by the time the server binds
	// it: try a few.
	for range 5 {
		if s.Port, err = freePort(); err != nil {
			break
		}
		if err = s.start(ctx); err == nil {
			return s, nil
		}
	}
	s.Stop()
	return nil, err
}

// DSN is a key=value DSN for database name on the server.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres sslmode=disable dbname=%s", s.Port, name)
}

// BaseDSN is the server's DSN without a database name.
func (s *Server) BaseDSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres sslmode=disable", s.Port)
}

// Restart restarts the server the way an operator's restart does (pg_ctl
// restart -m fast): every session is terminated, the server shuts down
// cleanly and starts again on the same port. It returns once the server
// accepts connections again.
func (s *Server) Restart(ctx context.Context) error {
	if out, err := s.run(ctx, "pg_ctl", "-D", s.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pgprivate: stop: %w: %s", err, out)
	}
	return s.start(ctx)
}

// Stop stops the server at once (pg_ctl stop -m immediate) and removes
// its directory.
func (s *Server) Stop() {
	if s.Port != 0 {
		_, _ = s.run(context.Background(), "pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "-t", "30", "stop")
	}
	_ = os.RemoveAll(s.Dir)
}

// start runs the server and waits for it to accept connections.
func (s *Server) start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1%s", s.Port, s.Dir, s.opts)
	if out, err := s.run(ctx, "pg_ctl", "-D", s.data(), "-l", filepath.Join(s.Dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
		return fmt.Errorf("pgprivate: start on port %d: %w: %s %s", s.Port, err, out, tail(string(log), 2000))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			c.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("pgprivate: the server on port %d does not answer: %w", s.Port, err)
		}
		time.Sleep(50 * time.Millisecond) // polling another process's startup
	}
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

// run runs one of the server's binaries as the cluster's owner.
func (s *Server) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	// The server pg_ctl starts must not hold our pipes: it outlives the
	// command, and Output would wait for it.
	f, err := os.CreateTemp("", "tidings-pgprivate-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

// binDir finds the directory of initdb and pg_ctl.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNotInstalled
}

// freePort returns a loopback port nobody listened on a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
