package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Private is a redis-server of a test's own, on a port of its own, that
// the test can stop and start again (a Redis that goes down and comes back
// empty), never the shared one.
type Private struct {
	Port int
	cmd  *exec.Cmd
}

// NewPrivate picks a free port for a private server; Start runs it.
func NewPrivate(t testing.TB) *Private {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return &Private{Port: l.Addr().(*net.TCPAddr).Port}
}

// Addr is the server's host:port.
func (r *Private) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.Port) }

// Start runs redis-server (skipping the test when it is not installed) and
// waits until it says it accepts connections.
func (r *Private) Start(t testing.TB) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	r.cmd = exec.Command(path, "--port", fmt.Sprint(r.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := r.cmd
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				break
			}
		}
		for sc.Scan() { // keep draining
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server did not get ready within 10s")
	}
}

// Stop kills the server and waits for it to exit.
func (r *Private) Stop(t testing.TB) {
	t.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = r.cmd.Wait()
}
