package main

import (
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"
)

// memSampler samples the process's resident set (VmRSS) and the Go heap's
// live objects (runtime/metrics) while a phase runs, and keeps the highest
// of each: what the phase itself needs, not what the run held before it.
type memSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup

	mu            sync.Mutex
	peakRSS       int64  // kB
	peakHeap      uint64 // bytes of live heap objects
	profile       string // when set, a heap profile is written here at each new heap high-water
	lastProfileAt time.Time
}

const heapObjects = "/memory/classes/heap/objects:bytes"

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
	m := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(m)
	heap := m[0].Value.Uint64()
	rss := rssKB("VmRSS")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peakRSS = max(s.peakRSS, rss)
	if heap > s.peakHeap {
		s.peakHeap = heap
		if s.profile != "" && time.Since(s.lastProfileAt) > time.Second {
			s.lastProfileAt = time.Now()
			if f, err := os.Create(s.profile); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}
}

// done stops sampling and returns the peaks: RSS in kB, heap in bytes.
func (s *memSampler) done() (rssKB int64, heap uint64) {
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakRSS, s.peakHeap
}
