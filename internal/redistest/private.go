package redistest

import (
	"errors"
	"fmt"
	"os/exec"
	"testing"
)

// Private is a redis-server of a test's own, on a port of its own, that the
// test can stop and start again (faults never touch the shared server).
type Private struct {
	Port int
	proc *proc
}

// NewPrivate picks a free port and starts a server on it; the test's
// cleanup kills it. It skips the test when redis-server is not installed.
func NewPrivate(t testing.TB) *Private {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p := &Private{Port: port}
	p.Start(t)
	return p
}

// Addr is the server's address.
func (p *Private) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// Start runs redis-server (keeping nothing on disk) and waits for it to
// say it accepts connections.
func (p *Private) Start(t testing.TB) {
	t.Helper()
	pr, err := spawn(p.Port)
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("redis-server is not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	p.proc = pr
	t.Cleanup(pr.kill)
}

// Stop kills the server and waits for it to exit.
func (p *Private) Stop(t testing.TB) {
	t.Helper()
	p.proc.kill()
}

// NewServer starts a private server on a free port for a program that is
// not a test (cmd/bench's fault cycles): where NewPrivate skips or fails
// the test, it returns the error. Kill stops it; Restart kills it
// (SIGKILL) and starts it again, empty, on the same port. It dies with the
// program, however the program ends.
func NewServer() (*Private, error) {
	pr, err := spawnFree()
	if err != nil {
		return nil, err
	}
	return &Private{Port: pr.port, proc: pr}, nil
}

// Restart kills the server and starts it again, empty, on its port.
func (p *Private) Restart() error {
	p.proc.kill()
	pr, err := spawn(p.Port)
	if err != nil {
		return err
	}
	p.proc = pr
	return nil
}

// Kill stops the server (SIGKILL) and waits for it to exit.
func (p *Private) Kill() { p.proc.kill() }
