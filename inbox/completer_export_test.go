package inbox

// CompleterWakes is how many times the worker's completer woke to mark
// finished jobs (0 without one), for the test that an idle one sleeps.
func (w *Worker) CompleterWakes() int64 {
	if w.done.c == nil {
		return 0
	}
	return w.done.c.wakes.Load()
}
