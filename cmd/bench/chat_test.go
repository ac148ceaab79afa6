package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestChatPeers runs the chat group at a small scale against the real
// PostgreSQL: for Discord and Teams, a delivery row and a post row for
// each peer (at once, 20, 50 and 100 ms), and a note per peer with
// deliveries marked sent in the ledger (the posts went through the
// webhook client to the TLS peer and were accepted) and each side's CPU
// per operation, the delivery's PostgreSQL share above zero.
func TestChatPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the chat figures against PostgreSQL")
	}
	b := testBench(t, "tidings_test_bench_chat", 0.02, 8)
	figs, err := chatGroup().run(context.Background(), b)
	checkFigures(t, b, figs, err, 2*2*len(channelPeers))
	var names string
	for _, f := range figs {
		names += f.Name + "\n"
	}
	sent := regexp.MustCompile(` (\d+) deliveries marked sent in the ledger`)
	for _, service := range []string{"discord", "teams"} {
		for _, p := range channelPeers {
			if !strings.Contains(names, service+" deliveries/s (Process, webhook), peer "+p.name+"\n") {
				t.Errorf("no %s delivery row for the peer %q", service, p.name)
			}
			if !strings.Contains(names, service+" posts/s (provider and webhook client alone; no database), peer "+p.name+"\n") {
				t.Errorf("no %s post row for the peer %q", service, p.name)
			}
		}
		notes := 0
		for _, n := range b.notes {
			if !strings.HasPrefix(n, service+", peer ") {
				continue
			}
			notes++
			if m := sent.FindStringSubmatch(n); m == nil {
				t.Errorf("note without deliveries marked sent: %s", n)
			} else if k, _ := strconv.Atoi(m[1]); k < 2 {
				t.Errorf("%d deliveries marked sent, want the first and the measured ones: %s", k, n)
			}
			if !strings.Contains(n, "CPU per delivery bench process ") || strings.Contains(n, "CPU per delivery bench process 0 µs") ||
				strings.Contains(n, "PostgreSQL 0 µs; per post alone") || !strings.Contains(n, "per raw POST bench process ") || !strings.Contains(n, " allocations; per post alone") {
				t.Errorf("note without the CPU per delivery of each side: %s", n)
			}
		}
		if notes != len(channelPeers) {
			t.Errorf("%d %s notes, want one per peer (%d)", notes, service, len(channelPeers))
		}
	}
}
