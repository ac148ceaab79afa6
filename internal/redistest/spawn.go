package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"time"
)

// watchdog runs redis-server ("$@") in the background and kills it when
// its own stdin reaches end of file: when the test binary closes the pipe
// (kill) or exits in any way, crash and timeout included, since only the
// test binary holds the pipe's other end. It hands redis-server's output
// to the test binary and keeps none of it itself, so that output ends when
// redis-server does.
const watchdog = `redis-server "$@" &
pid=$!
exec >/dev/null 2>&1
read -r _ || :
kill -9 "$pid" 2>/dev/null
wait "$pid"
exit 0`

// proc is a redis-server under the watchdog.
type proc struct {
	port  int
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func (p *proc) addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

// kill stops the server and returns once it is gone (its port free).
func (p *proc) kill() {
	_ = p.stdin.Close()
	_ = p.cmd.Wait()
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

// spawnFree starts a server on a free port, trying another port when one
// was taken in the meantime.
func spawnFree() (*proc, error) {
	var err error
	for range 5 {
		var port int
		if port, err = freePort(); err != nil {
			return nil, err
		}
		var p *proc
		if p, err = spawn(port); err == nil {
			return p, nil
		}
		if _, lookErr := exec.LookPath("redis-server"); lookErr != nil {
			return nil, lookErr
		}
	}
	return nil, err
}

// spawn starts redis-server on port (loopback only, nothing kept on disk)
// and waits until it says it accepts connections.
func spawn(port int) (*proc, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	cmd := exec.Command("sh", "-c", watchdog, "redistest-watchdog",
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redistest: start redis-server: %w", err)
	}
	p := &proc{port: port, cmd: cmd, stdin: stdin}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var said []string
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				for sc.Scan() { // keep draining
				}
				return
			}
			said = append(said, sc.Text())
		}
		ready <- fmt.Errorf("redistest: redis-server on port %d exited: %s", port, strings.Join(said, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			p.kill()
			return nil, err
		}
		return p, nil
	case <-time.After(10 * time.Second):
		p.kill()
		return nil, fmt.Errorf("redistest: redis-server on port %d did not get ready within 10s", port)
	}
}
