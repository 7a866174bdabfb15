// Package streams holds everything of ours that speaks JetStream: the stream
// and key-value topology, publishing with Nats-Msg-Id, and the consume loop
// that runs a handler over a durable pull consumer and turns its result into
// exactly one acknowledgement.
//
// Handlers are plain functions, func(ctx, jetstream.Msg) Outcome. The
// Outcome they return is a value, mapped to the acknowledgement in one
// place (Decide):
//
//	Ack()                  → Ack
//	Retry(err, delay)      → NakWithDelay(delay): try again later (transient)
//	Retry(err, 0)          → NakWithDelay(backoff by delivery count)
//	Term(err)              → TermWithReason: never redeliver (permanent)
//	(any but Term while our own context is ending) → Nak: hand it to another replica now (shutdown)
//
// Long work is kept alive with InProgress by the consume loop itself, up to
// a handler deadline; a panic is logged and the message retried after
// PanicDelay.
package streams

import (
	"context"
	"fmt"
	"time"
)

// Action is what the consume loop does with a message once its handler
// returns.
type Action int

// The acknowledgement actions.
const (
	ActAck     Action = iota // done: Ack
	ActRetry                 // transient: NakWithDelay
	ActTerm                  // permanent: TermWithReason
	ActRelease               // not done here: Nak at once
)

func (a Action) String() string {
	switch a {
	case ActAck:
		return "ack"
	case ActRetry:
		return "retry"
	case ActTerm:
		return "term"
	case ActRelease:
		return "release"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Outcome is what a handler decided about its message: done, try again
// later, or never again, with the reason. The zero Outcome is Ack().
type Outcome struct {
	act   Action
	delay time.Duration
	err   error
}

// Ack is the outcome of a message done with, or with nothing to do.
func Ack() Outcome { return Outcome{} }

// Retry is the outcome of a message to try again after delay (0: the
// loop's backoff for its delivery count), because of err.
func Retry(err error, delay time.Duration) Outcome {
	return Outcome{act: ActRetry, delay: delay, err: err}
}

// Term is the outcome of a message never to redeliver, because of err.
// The handler must already have published whatever the failure means to
// users (a failed event, a dead letter); Term only stops the redelivery.
func Term(err error) Outcome { return Outcome{act: ActTerm, err: err} }

// Action is the acknowledgement the handler asked for (before Decide
// weighs the delivery count and a drain).
func (o Outcome) Action() Action { return o.act }

// Delay is the delay a Retry asked for (0: the loop's backoff).
func (o Outcome) Delay() time.Duration { return o.delay }

// Err is the reason for a Retry or a Term; nil for Ack.
func (o Outcome) Err() error { return o.err }

// IsAck reports whether the message is done with.
func (o Outcome) IsAck() bool { return o.act == ActAck }

func (o Outcome) String() string {
	if o.err == nil {
		return o.act.String()
	}
	return o.act.String() + ": " + o.err.Error()
}

// Backoff is the redelivery delay for a message delivered n times (n ≥ 1):
// exponential from Initial, capped at Max.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Delay returns the delay after the n-th delivery.
func (b Backoff) Delay(n uint64) time.Duration {
	d := b.Initial
	if d <= 0 {
		d = time.Second
	}
	for i := uint64(1); i < n && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// Decide maps a handler's outcome to an action and, for ActRetry, a
// delay. It is the one place where outcomes become acknowledgements. ctx
// is the context the handler's work ran under: when it has ended, the
// drain cut the handler short, and a Retry it returned is not a verdict on
// the message: it is released at once for another replica (an Ack, or a
// Term, which follows a published failure, stands). numDelivered is the
// message's delivery count (≥ 1).
func Decide(ctx context.Context, o Outcome, numDelivered uint64, backoff Backoff) (Action, time.Duration) {
	if ctx.Err() != nil && o.act == ActRetry {
		return ActRelease, 0
	}
	if o.act == ActRetry && o.delay <= 0 {
		return ActRetry, backoff.Delay(numDelivered)
	}
	return o.act, o.delay
}
