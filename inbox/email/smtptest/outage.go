package smtptest

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emersion/go-smtp"
)

// FailRecipient makes the server refuse RCPT TO for address (compared
// case-insensitively) with f, n times (n < 0: every time from now on),
// after any failures programmed before for it. Other recipients are
// unaffected. f.Stage is ignored.
func (s *Server) FailRecipient(address string, n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rcptFailures == nil {
		s.rcptFailures = map[string][]Failure{}
	}
	a := strings.ToLower(address)
	if n < 0 {
		f.Stage = -1 // marks "for ever"
		s.rcptFailures[a] = append(s.rcptFailures[a], f)
		return
	}
	for range n {
		s.rcptFailures[a] = append(s.rcptFailures[a], f)
	}
}

// RcptAttempts returns how many times RCPT TO named address (refused or
// not).
func (s *Server) RcptAttempts(address string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts[strings.ToLower(address)]
}

func (s *Server) rcptFailure(to string) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := strings.ToLower(to)
	if s.rcpts == nil {
		s.rcpts = map[string]int{}
	}
	s.rcpts[a]++
	fs := s.rcptFailures[a]
	if len(fs) == 0 {
		return nil
	}
	f := fs[0]
	if f.Stage != -1 {
		s.rcptFailures[a] = fs[1:]
	}
	return &f
}

// Stop closes the listener and every connection: the server is down
// (connections are refused) until Resume. Messages received so far are
// kept.
func (s *Server) Stop() error {
	return s.Close()
}

// Resume listens again on the same address and serves, after Stop.
func (s *Server) Resume() error {
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	old := s.srv
	srv.Domain, srv.AllowInsecureAuth, srv.MaxMessageBytes, srv.MaxRecipients = old.Domain, old.AllowInsecureAuth, old.MaxMessageBytes, old.MaxRecipients
	srv.ReadTimeout, srv.WriteTimeout, srv.ErrorLog, srv.TLSConfig = old.ReadTimeout, old.WriteTimeout, old.ErrorLog, old.TLSConfig
	ln, err := net.Listen("tcp", s.ln.Addr().String())
	if err != nil {
		return fmt.Errorf("smtptest: listen again on %s: %w", s.ln.Addr(), err)
	}
	s.srv, s.ln, s.done = srv, ln, make(chan struct{})
	done := s.done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			_ = err
		}
	}()
	return nil
}
