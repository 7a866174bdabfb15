package streams

// Retrying topology requests: Ensure and Verify ask JetStream again while
// it cannot answer yet, and stop at once when retrying cannot mend it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Start-up retry timing: short first waits (a cluster that is forming
// answers within seconds), capped so that a long outage is asked about
// every few seconds, not hammered. One request may take ensureFirstAttempt,
// then twice as long each time, up to ensureAttempt: several replicas
// creating one stream at once can leave a request unanswered, and the
// retry of an identical configuration then succeeds at once.
const (
	ensureRetryMin     = 250 * time.Millisecond
	ensureRetryMax     = 5 * time.Second
	ensureFirstAttempt = 2 * time.Second
	ensureAttempt      = 10 * time.Second
)

// retry runs f until it succeeds, fails in a way retrying cannot mend, or
// ctx ends; then it returns the last error, named by what.
// retry is the package's retry with t's logger, telling t.Failed of each
// failed attempt.
func (t Topology) retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	return retry(ctx, t.Logger, what, func(ctx context.Context) error {
		err := f(ctx)
		if err != nil && t.Failed != nil {
			t.Failed(fmt.Errorf("%s: %w", what, err))
		}
		return err
	})
}

func retry(ctx context.Context, log *slog.Logger, what string, f func(ctx context.Context) error) error {
	wait, attemptTimeout := ensureRetryMin, ensureFirstAttempt
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		attemptTimeout = min(2*attemptTimeout, ensureAttempt)
		err := f(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info(what+": done", "attempts", attempt)
			}
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Warn(what+": JetStream cannot do it yet; retrying", "err", err, "attempt", attempt)
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1)) //nolint:gosec // G404: retry jitter; needs no secure randomness
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: gave up after %d attempts: %w (last error: %w)", what, attempt, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, ensureRetryMax)
	}
}

// permanent reports whether JetStream refused a topology request for a
// reason that retrying cannot mend: the configuration itself (subjects
// overlapping another stream's, replicas on a single server, an invalid
// setting, more MaxBytes than the server or the account has room for, a
// stream holding more than its new MaxBytes) or JetStream not enabled.
// Everything else (timeouts, no responders, no leader, no suitable peers,
// a name taken by a concurrent create) can pass.
func permanent(err error) bool {
	if errors.Is(err, ErrHoldsMore) {
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
