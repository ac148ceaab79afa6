package observe

// PushConnected counts one open live stream (tidings_push_connections);
// call the function it returns when the stream closes.
//
//	defer metrics.PushConnected()()
func (m *Metrics) PushConnected() (closed func()) {
	m.connections.Inc()
	return m.connections.Dec
}
