package webhook

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A worker's posts to one host reuse their connections: 20 posts at once
// (a worker's default concurrency), then 20 more, open 20 TLS connections,
// not 20 and then 18 more (Go's default keeps 2 idle per host, so each
// round beyond them redoes a handshake).
func TestPostsReuseConnectionsToOneHost(t *testing.T) {
	const inFlight = 20
	var opened atomic.Int32
	var arrived sync.WaitGroup
	releases := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var round atomic.Int32
	s := &testServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		arrived.Done()
		select { // all of a round in flight at once: each on its own connection
		case <-releases[round.Load()]:
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			opened.Add(1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	s.addr = netip.MustParseAddrPort(s.Listener.Addr().String())
	c := clientFor(t, newFakeResolver(map[string][]string{"example.com": {s.addr.Addr().String()}}), s)
	url := "https://example.com:" + strconv.Itoa(int(s.addr.Port())) + "/hook"
	for r := range 2 {
		round.Store(int32(r))
		arrived.Add(inFlight)
		var done sync.WaitGroup
		errs := make(chan error, inFlight)
		for range inFlight {
			done.Add(1)
			go func() {
				defer done.Done()
				if _, err := c.Post(context.Background(), Request{URL: url, Body: []byte(`{}`)}); err != nil {
					errs <- err
				}
			}()
		}
		waited := make(chan struct{})
		go func() { arrived.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the posts did not all arrive", r)
		}
		close(releases[r])
		done.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", r, err)
		}
	}
	if n := opened.Load(); n != inFlight {
		t.Errorf("%d connections opened for two rounds of %d posts at once, want %d (the second round on the first's)", n, inFlight, inFlight)
	}
}
