package workflow

// canonical returns the current name of action in domain (activity
// aliases): rules saved under a renamed action's former name, and events
// recorded under it, keep meeting.
func (s *Rules) canonical(domain, action string) string {
	if sc := s.schemas[domain]; sc != nil {
		return sc.Domain().Canonical(action)
	}
	return action
}

// names returns every name action had in domain: the current one first.
func (s *Rules) names(domain, action string) []string {
	action = s.canonical(domain, action)
	out := []string{action}
	if sc := s.schemas[domain]; sc != nil {
		out = append(out, sc.Domain().Aliases(action)...)
	}
	return out
}
