package console

// The audit stream (internal/audit) behind the console's Auditor: made on
// first use, since NATS may not answer when the console starts; a view
// whose entry cannot be stored is refused (server.go).

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/audit"
)

// streamAuditor records entries in the audit stream.
type streamAuditor struct {
	js       jetstream.JetStream
	prefix   string
	settings audit.Settings

	mu sync.Mutex
	a  *audit.Auditor // once the stream is made
}

// auditor is the stream's Auditor, making the stream the first time.
func (s *streamAuditor) auditor(ctx context.Context) (*audit.Auditor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.a != nil {
		return s.a, nil
	}
	if _, err := audit.Ensure(ctx, s.js, s.prefix, s.settings); err != nil {
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	a, err := audit.New(s.js, s.prefix)
	if err != nil {
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	s.a = a
	return a, nil
}

// Record stores e and returns once the stream has it.
func (s *streamAuditor) Record(ctx context.Context, e Entry) error {
	a, err := s.auditor(ctx)
	if err != nil {
		return err
	}
	return a.Record(ctx, audit.Entry{
		Actor:  audit.Actor{Subject: e.Actor.Subject, Name: e.Actor.Name, Role: string(e.Actor.Role)},
		Action: e.Action, LookupKey: e.LookupKey, Detail: e.Detail, Reason: e.Reason, At: e.At,
	})
}

// List reads the audit, newest first.
func (s *streamAuditor) List(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	a, err := s.auditor(ctx)
	if err != nil {
		return nil, err
	}
	return a.List(ctx, f)
}
