// Package apptest builds and runs an example app of the module as an OS
// process, for the tests that check the README's programs run: its log is
// read line by line, so a test waits for what it expects (with a
// deadline) instead of sleeping.
package apptest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Build compiles the main package in dir (a path in the module, or a
// package path) into the test's temporary directory and returns the
// binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// FreeAddr returns a loopback address nobody listened on a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Process is a running app.
type Process struct {
	t     testing.TB
	cmd   *exec.Cmd
	lines chan string
	log   *strings.Builder
	done  chan struct{}
}

// Start runs bin with env added to the test's environment; the test's
// cleanup kills it if it still runs.
func Start(t testing.TB, bin string, env ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{t: t, cmd: cmd, lines: make(chan string, 1000), log: &strings.Builder{}, done: make(chan struct{})}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for range p.lines {
		}
		_ = cmd.Wait()
	})
	return p
}

// Wait waits up to 30s for a line of the app's output containing want,
// and returns it; it fails the test when the app exits or time is up.
func (p *Process) Wait(want string) string {
	p.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("the app exited before logging %q:\n%s", want, p.log)
			}
			p.log.WriteString(l + "\n")
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			p.t.Fatalf("the app did not log %q within 30s:\n%s", want, p.log)
		}
	}
}

// Log is the output read so far.
func (p *Process) Log() string { return p.log.String() }

// Stop sends SIGTERM and returns the app's whole output and its exit
// error (nil: exit 0).
func (p *Process) Stop() (string, error) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	for l := range p.lines {
		p.log.WriteString(l + "\n")
	}
	err := p.cmd.Wait()
	return p.log.String(), err
}

// As sets who a request is: a cookie or a header of the app's sign-in.
type As func(*http.Request)

// Cookie sends c.
func Cookie(c *http.Cookie) As { return func(r *http.Request) { r.AddCookie(c) } }

// Header sends the header name: value.
func Header(name, value string) As { return func(r *http.Request) { r.Header.Set(name, value) } }

// Do sends a request as who says and returns the status and body.
func Do(t testing.TB, method, url string, who ...As) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, as := range who {
		as(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Stream opens url as a server-sent events stream and sends each "event:"
// name on the returned channel, until the test ends.
func Stream(t testing.TB, url string, who ...As) <-chan string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, as := range who {
		as(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("stream %s: %s", url, res.Status)
	}
	t.Cleanup(func() { res.Body.Close() })
	events := make(chan string, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- name
			}
		}
	}()
	return events
}

// Next waits up to 30s for the event want on a Stream.
func Next(t testing.TB, events <-chan string, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before a %q event", want)
			}
			if e == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q event within 30s", want)
		}
	}
}
