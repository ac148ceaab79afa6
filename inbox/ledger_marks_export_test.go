package inbox

// PendingMarks is how many MarkSent calls wait for a statement, for the
// tests of the grouped marks.
func (l *Ledger) PendingMarks() int {
	l.marks.mu.Lock()
	defer l.marks.mu.Unlock()
	n := 0
	for _, q := range l.marks.queues {
		n += len(q.pending)
	}
	return n
}

// MarkStatements is how many statements the grouped marks ran.
func (l *Ledger) MarkStatements() int {
	l.marks.mu.Lock()
	defer l.marks.mu.Unlock()
	return l.marks.flushes
}
