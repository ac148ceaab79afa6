package inbox

import "time"

// SetGateActivePeriod sets how long a wake-up or a job keeps the worker's
// dequeue gate active (gateActivePeriod, a second), before Start: with 0
// every wait is IdleCheckInterval, so only a wake-up's own dequeues can
// take a job. No-op without a gate.
func (w *Worker) SetGateActivePeriod(d time.Duration) {
	if w.gate != nil {
		w.gate.activeFor = d
	}
}
