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

// Private is a redis-server of a test's own, on a port of its own, that the
// test can stop and start again (faults never touch the shared server).
type Private struct {
	Port int
	cmd  *exec.Cmd
}

// NewPrivate picks a free port and starts a server on it; the test's
// cleanup kills it. It skips the test when redis-server is not installed.
func NewPrivate(t testing.TB) *Private {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Private{Port: l.Addr().(*net.TCPAddr).Port}
	l.Close()
	p.Start(t)
	return p
}

// Addr is the server's address.
func (p *Private) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// Start runs redis-server (keeping nothing on disk) and waits for it to
// say it accepts connections.
func (p *Private) Start(t testing.TB) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	p.cmd = exec.Command(path, "--port", fmt.Sprint(p.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := p.cmd
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
func (p *Private) Stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}
