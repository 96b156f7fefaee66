package web

import "context"

// WaitSignInRefusals waits until the audit events of the refused sign-ins
// answered so far are written (authn writes them beside the answer), or
// ctx ends: for shutdown, before the database closes, and for tests.
func (s *Server) WaitSignInRefusals(ctx context.Context) error {
	ref := s.store.Load()
	if ref == nil || ref.signIn == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { ref.signIn.WaitRefusals(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
