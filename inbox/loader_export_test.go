package inbox

import "time"

// ReadAheadNext makes w's loader read ahead on the next batch of domain's
// events (as after a job found its event read ahead), and keep what it
// reads for keep: a test forces a read-ahead and what follows it without
// depending on the load or the clock.
func (w *Worker) ReadAheadNext(domain string, keep time.Duration) {
	w.loader.mu.Lock()
	defer w.loader.mu.Unlock()
	w.loader.ahead[domain] = &readAhead{hits: 1}
	w.loader.keep = keep
}

// LoaderReadAhead is how many events w's loader read ahead and kept.
func (w *Worker) LoaderReadAhead() int {
	w.loader.mu.Lock()
	defer w.loader.mu.Unlock()
	return w.loader.stats.ReadAhead
}
