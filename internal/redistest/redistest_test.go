package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// childEnv makes the test binary start a server of its own, print its
// address and wait to be killed.
const childEnv = "TIDINGS_REDISTEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Unsetenv(ownedEnv)
		os.Unsetenv(OptInEnv)
		fmt.Println(Addr())
		select {}
	}
	os.Exit(m.Run())
}

// Without TIDINGS_REDIS_ADDR the binary's server is one it started itself,
// not the default Redis, and its child processes are handed the same one.
func TestAddrIsTheBinarysOwn(t *testing.T) {
	if os.Getenv(OptInEnv) != "" {
		t.Skip(OptInEnv + " is set: the tests use that server")
	}
	addr := Addr()
	if addr == "127.0.0.1:6379" || addr != os.Getenv(ownedEnv) {
		t.Fatalf("Addr() = %q, %s = %q", addr, ownedEnv, os.Getenv(ownedEnv))
	}
	if _, err := Flush(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	runtime.GC() // the server outlives a collection (its watchdog's pipe is held)
	runtime.GC()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// The server goes when the binary that started it dies, even by SIGKILL.
func TestServerDiesWithItsBinary(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		line <- sc.Text()
	}()
	var addr string
	select {
	case addr = <-line:
	case <-time.After(20 * time.Second):
		t.Fatal("the child said no address within 20s")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the child's server at %q: %v", addr, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // gone
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the server at %s outlived its binary by 10s", addr)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's exit
	}
}

// On a server the tests did not start, Flush empties databases only when
// the server held no key when the tests first came (they mark it then):
// a server holding someone's keys is refused and left as it was.
func TestFlushOptedInServerSparesForeignData(t *testing.T) {
	ctx := context.Background()
	theirs := NewPrivate(t)
	c := redis.NewClient(&redis.Options{Addr: theirs.Addr(), DB: 4})
	defer c.Close()
	if err := c.Set(ctx, "someone:else", "precious", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 4, 9} {
		_, err := flush(ctx, theirs.Addr(), false, n)
		if !errors.Is(err, ErrNotScratch) || !strings.Contains(err.Error(), OptInEnv) || !strings.Contains(err.Error(), "db4") {
			t.Fatalf("flush of db %d on a server with someone's keys: %v, want ErrNotScratch naming %s and db4", n, err, OptInEnv)
		}
	}
	if v := c.Get(ctx, "someone:else").Val(); v != "precious" {
		t.Fatalf("someone's key holds %q after the refused flushes", v)
	}

	// An empty server is marked and flushed, again and again, db 0 too.
	empty := NewPrivate(t)
	for _, n := range []int{5, 5, 0, 5} {
		if _, err := flush(ctx, empty.Addr(), false, n); err != nil {
			t.Fatalf("flush of db %d on the tests' server: %v", n, err)
		}
		c5 := redis.NewClient(&redis.Options{Addr: empty.Addr(), DB: 5})
		if err := c5.Set(ctx, "asynq:{default}:pending", "job", 0).Err(); err != nil {
			t.Fatal(err)
		}
		c5.Close()
	}
	c0 := redis.NewClient(&redis.Options{Addr: empty.Addr()})
	defer c0.Close()
	if n := c0.Exists(ctx, MarkerKey).Val(); n != 1 {
		t.Fatal("the tests' server lost its marker")
	}
}
