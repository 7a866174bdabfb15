package streams

// Retrying topology requests: Ensure and Verify ask JetStream again while
// it cannot answer yet, and stop at once when retrying cannot mend it.

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/startup"
)

// retry runs f, as a step of making or checking the topology, until it
// succeeds, fails in a way retrying cannot mend, or ctx ends; then it
// returns the last error, named by what. t.Failed is told each failed
// attempt.
func (t Topology) retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	r := startup.Retry{What: what, Waiting: "JetStream cannot do it yet", Log: t.Logger, Permanent: permanent}
	if t.Failed != nil {
		r.Failed = func(err error) { t.Failed(fmt.Errorf("%s: %w", what, err)) }
	}
	if _, err := r.Do(ctx, f); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// permanent reports whether JetStream refused a topology request for a
// reason that retrying cannot mend: the configuration itself (subjects
// overlapping another stream's, replicas on a single server, an invalid
// setting, more MaxBytes than the server or the account has room for, a
// stream holding more than its new MaxBytes) or JetStream not enabled.
// Everything else (timeouts, no responders, no leader, no suitable peers,
// a name taken by a concurrent create) can pass.
func permanent(err error) bool {
	if errors.Is(err, ErrHoldsMore) || errors.Is(err, ErrServerTooOld) {
		return true
	}
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case 10065, // stream subjects overlap with an existing stream
		10074, // replicas > 1 not supported in non-clustered mode
		10052, // stream configuration is invalid
		10025, // invalid JSON: a request we built wrong
		10047, // insufficient storage resources available: the *_MAX_BYTES do not fit max_file_store
		10122, // stream max bytes exceeds the account's max stream bytes
		jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount:
		return true
	}
	return false
}
