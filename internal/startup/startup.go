// Package startup retries what a service must have before it can work
// (its streams, its bucket) while the other side cannot answer yet: a
// cluster forming, a leader election, S3 restarting. Each attempt has a
// deadline of its own, the waits between attempts grow with jitter, and
// the log says it at the first failure and every tenth, not at each.
package startup

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Timing: short first waits (a cluster that is forming answers within
// seconds), capped so that a long outage is asked about every few seconds,
// not hammered. One attempt may take FirstAttempt, then twice as long each
// time, up to MaxAttempt: an endpoint that drops packets answers nothing,
// and several replicas creating one stream at once can leave a request
// unanswered whose retry then succeeds at once.
const (
	MinWait      = 250 * time.Millisecond
	MaxWait      = 5 * time.Second
	FirstAttempt = 2 * time.Second
	MaxAttempt   = 10 * time.Second
)

// Retry says how to retry one step.
type Retry struct {
	// What names the step in logs and errors, e.g. "ensure stream AML_EVENTS".
	What string
	// Waiting is what the log says while retrying, e.g. "JetStream cannot
	// do it yet".
	Waiting string
	Log     *slog.Logger
	// Permanent reports an error that retrying cannot mend: Do returns it
	// at once (default: none is).
	Permanent func(error) bool
	// Failed, when set, is told each failed attempt's error (readiness
	// shows the last).
	Failed func(error)
}

// Do runs f until it succeeds, fails permanently, or ctx ends, and returns
// how many attempts it made. A permanent failure is returned as it is; the
// end of ctx wraps both ctx's error and the last attempt's.
func (r Retry) Do(ctx context.Context, f func(ctx context.Context) error) (attempts int, err error) {
	wait, attemptTimeout := MinWait, FirstAttempt
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		attemptTimeout = min(2*attemptTimeout, MaxAttempt)
		err := f(actx)
		cancel()
		if err == nil {
			if attempt > 1 && r.Log != nil {
				r.Log.Info(r.What+": done", "attempts", attempt)
			}
			return attempt, nil
		}
		if r.Failed != nil {
			r.Failed(err)
		}
		if r.Permanent != nil && r.Permanent(err) {
			return attempt, err
		}
		if (attempt == 1 || attempt%10 == 0) && r.Log != nil {
			r.Log.Warn(r.What+": "+r.Waiting+"; retrying", "err", err, "attempt", attempt)
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1)) //nolint:gosec // G404: retry jitter; needs no secure randomness
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt, fmt.Errorf("gave up after %d attempts: %w (last error: %w)", attempt, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, MaxWait)
	}
}
