package email_test

import (
	"bufio"
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// aiosmtpd is an SMTP server on Debian's aiosmtpd (testdata/aiosmtpd_peer.py),
// an implementation this project did not write, on a loopback port. Tests
// skip when it is not installed (apt-get install python3-aiosmtpd;
// scripts/services installs it).
type aiosmtpd struct {
	t      *testing.T
	python string
	port   int
	flags  []string

	mu        sync.Mutex
	cmd       *exec.Cmd
	delivered map[string]int // Message-Id -> count
	changed   chan struct{}  // closed and replaced on each delivery
}

// aiosmtpdPython returns a python3 that imports aiosmtpd, or skips t.
func aiosmtpdPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(py, "-c", "import aiosmtpd").Run(); err == nil {
			return py
		}
	}
	t.Skip("Debian's aiosmtpd is not installed (apt-get install python3-aiosmtpd; scripts/services installs it): skipping the test against an independent SMTP server")
	return ""
}

func startAiosmtpd(t *testing.T, flags ...string) *aiosmtpd {
	t.Helper()
	py := aiosmtpdPython(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := &aiosmtpd{t: t, python: py, port: port, flags: flags, delivered: map[string]int{}, changed: make(chan struct{})}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *aiosmtpd) Host() string { return "127.0.0.1" }
func (p *aiosmtpd) Port() int    { return p.port }

// start runs the server and waits for its "ready".
func (p *aiosmtpd) start() {
	p.t.Helper()
	script, _ := filepath.Abs(filepath.Join("testdata", "aiosmtpd_peer.py"))
	cmd := exec.Command(p.python, append([]string{script, "--port", strconv.Itoa(p.port)}, p.flags...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // aiosmtpd logs each unrecognised command; shown only when it does not start
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "ready":
				close(ready)
			case strings.HasPrefix(line, "delivered "):
				p.mu.Lock()
				p.delivered[strings.TrimPrefix(line, "delivered ")]++
				close(p.changed)
				p.changed = make(chan struct{})
				p.mu.Unlock()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		p.t.Fatalf("aiosmtpd did not say ready within 30s: %s", stderr.String())
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
}

// stop kills the server: connections are refused until start.
func (p *aiosmtpd) stop() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// waitFor waits until n messages were delivered and returns the count per
// Message-Id.
func (p *aiosmtpd) waitFor(n int, timeout time.Duration) (map[string]int, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		total := 0
		for _, c := range p.delivered {
			total += c
		}
		changed := p.changed
		if total >= n {
			out := make(map[string]int, len(p.delivered))
			for k, v := range p.delivered {
				out[k] = v
			}
			p.mu.Unlock()
			return out, true
		}
		p.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			return nil, false
		}
	}
}
