package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestFlags checks the command line: River's knobs are refused where
// River would refuse them, and the printed command line gives back the
// flags that change the figures.
func TestFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := commandLine(cfg); got != "cd cmd/bench/river && go run ." {
		t.Errorf("default command line %q", got)
	}
	if cfg.River.FetchCooldown != time.Millisecond || cfg.River.FetchPoll != 10*time.Millisecond || cfg.River.Workers != 1000 {
		t.Errorf("River's tuned settings %+v", cfg.River)
	}
	cfg, err = parseFlags([]string{"-scale", "0.1", "-only", "latency,idle", "-river-fetch-poll", "50ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := commandLine(cfg), "cd cmd/bench/river && go run . -scale 0.1 -river-fetch-poll 50ms -only latency,idle"; got != want {
		t.Errorf("command line %q, want %q", got, want)
	}
	for _, bad := range [][]string{
		{"-river-fetch-cooldown", "500us"},                             // below River's 1ms
		{"-river-fetch-cooldown", "20ms", "-river-fetch-poll", "10ms"}, // poll shorter than cooldown
		{"-river-workers", "0"},                                        // River takes 1 to 10,000
		{"-only", "nosuch"},
		{"-pool", "64"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%s: accepted", strings.Join(bad, " "))
		}
	}
}
