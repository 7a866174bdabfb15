// Package streams holds everything of ours that speaks JetStream: the stream
// and key-value topology, publishing with Nats-Msg-Id, and the consume loop
// that runs a handler over a durable pull consumer and turns its result into
// exactly one acknowledgement.
//
// Handlers are plain functions, func(ctx, jetstream.Msg) error. What they
// return decides the acknowledgement, in one place (Decide):
//
//	nil                    → Ack
//	Retry(err, delay)      → NakWithDelay(delay): try again later (transient)
//	Term(err)              → TermWithReason: never redeliver (permanent)
//	(any error while our own context is ending) → Nak: hand it to another replica now (shutdown)
//	any other error        → NakWithDelay(backoff by delivery count)
//
// Long work is kept alive with InProgress by the consume loop itself, up to
// a handler deadline; a panic is logged and the message retried after
// PanicDelay.
package streams

import (
	"context"
	"errors"
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

// outcome is an error that carries the acknowledgement its handler chose.
type outcome struct {
	act   Action
	delay time.Duration
	err   error
}

func (o *outcome) Error() string {
	if o.err == nil {
		return o.act.String()
	}
	return o.err.Error()
}

func (o *outcome) Unwrap() error { return o.err }

// Retry marks err as transient: the message is redelivered after delay (0:
// the loop's backoff for its delivery count).
func Retry(err error, delay time.Duration) error {
	return &outcome{act: ActRetry, delay: delay, err: err}
}

// Term marks err as permanent: the message is never redelivered. The handler
// must already have published whatever the failure means to users (a failed
// event, a dead letter); Term only stops the redelivery.
func Term(err error) error { return &outcome{act: ActTerm, err: err} }

// Marked is what err was marked with by Retry or Term: the action and its
// delay; ok is false for any other error (and nil). For a handler that runs
// another's work inline and hands its outcome over to a message of its own.
func Marked(err error) (act Action, delay time.Duration, ok bool) {
	var o *outcome
	if !errors.As(err, &o) {
		return ActAck, 0, false
	}
	return o.act, o.delay, true
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

// Decide maps a handler's result to an action and, for ActRetry, a delay.
// It is the one place where results become acknowledgements. ctx is the
// context the handler's work ran under: when it has ended, the drain cut the
// handler short, and whatever it returned (but a Term, which follows a
// published failure) is not a verdict on the message: it is released at
// once for another replica. numDelivered is the message's delivery count
// (≥ 1).
func Decide(ctx context.Context, err error, numDelivered uint64, backoff Backoff) (Action, time.Duration) {
	if err == nil {
		return ActAck, 0
	}
	var o *outcome
	isOutcome := errors.As(err, &o)
	if ctx.Err() != nil && !(isOutcome && o.act == ActTerm) {
		return ActRelease, 0
	}
	if isOutcome {
		if o.act == ActRetry && o.delay <= 0 {
			return ActRetry, backoff.Delay(numDelivered)
		}
		return o.act, o.delay
	}
	return ActRetry, backoff.Delay(numDelivered)
}
