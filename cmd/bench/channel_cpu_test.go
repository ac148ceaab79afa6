package main

import (
	"context"
	"strings"
	"testing"
)

// TestChannelPeers runs the sms group at a small scale against the real
// PostgreSQL: a delivery row and a send row for each peer (at once, 20,
// 50 and 100 ms), and a note per peer with each side's CPU per operation,
// the delivery's PostgreSQL share above zero (it reads, claims and marks)
// and the raw POST's none.
func TestChannelPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sms figures against PostgreSQL")
	}
	b := testBench(t, "tidings_test_bench_channels", 0.02, 8)
	figs, err := smsGroup().run(context.Background(), b)
	checkFigures(t, b, figs, err, 2*len(channelPeers))
	var names string
	for _, f := range figs {
		names += f.Name + "\n"
	}
	for _, p := range []string{"answers at once, 8 in flight", "answers in 20 ms, 64 in flight", "answers in 50 ms, 20 in flight", "answers in 100 ms, 20 in flight"} {
		if !strings.Contains(names, "sms deliveries/s (Process, Twilio), peer "+p+"\n") {
			t.Errorf("no delivery row for the peer %q", p)
		}
	}
	notes := 0
	for _, n := range b.notes {
		if !strings.HasPrefix(n, "sms, peer ") {
			continue
		}
		notes++
		if !strings.Contains(n, "CPU per delivery bench process ") || strings.Contains(n, "CPU per delivery bench process 0 µs") ||
			strings.Contains(n, "PostgreSQL 0 µs; per send alone") || !strings.Contains(n, "per raw POST bench process ") || !strings.Contains(n, " allocations; per send alone") {
			t.Errorf("note without the CPU per delivery of each side: %s", n)
		}
	}
	if notes != len(channelPeers) {
		t.Errorf("%d sms notes, want one per peer (%d)", notes, len(channelPeers))
	}
}
