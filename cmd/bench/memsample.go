package main

import (
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"
)

// The runtime/metrics the memory sampler reads.
const (
	heapObjects = "/memory/classes/heap/objects:bytes" // live and not yet swept objects
	heapLive    = "/gc/heap/live:bytes"                // live, as the last GC marked it
)

// memSampler samples the process's resident set (VmRSS) and the Go heap
// (runtime/metrics) while a phase runs and keeps the highest of each: what
// the phase itself needs, not what the run held before it.
type memSampler struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	profile string // when set, a heap profile is written here at the heap's high-water (at most once a second)

	mu          sync.Mutex
	peak        memPeak
	profiledAt  time.Time
	profiledFor uint64
}

// memPeak is a sampler's result.
type memPeak struct {
	rssKB int64
	heap  uint64 // bytes, heapObjects
	live  uint64 // bytes, heapLive
}

func startMemSampler(every time.Duration, profile string) *memSampler {
	s := &memSampler{stop: make(chan struct{}), profile: profile}
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				s.sample()
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *memSampler) sample() {
	m := []metrics.Sample{{Name: heapObjects}, {Name: heapLive}}
	metrics.Read(m)
	heap, live := m[0].Value.Uint64(), m[1].Value.Uint64()
	rss := rssKB("VmRSS")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak.rssKB = max(s.peak.rssKB, rss)
	s.peak.live = max(s.peak.live, live)
	if heap > s.peak.heap {
		s.peak.heap = heap
		if s.profile != "" && heap > s.profiledFor*11/10 && time.Since(s.profiledAt) > time.Second {
			s.profiledAt, s.profiledFor = time.Now(), heap
			if f, err := os.Create(s.profile); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				_ = f.Close()
			}
		}
	}
}

// done stops sampling and returns the peaks.
func (s *memSampler) done() memPeak {
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
