package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Pull timing. A pull waits pullWait for a message and is never cancelled:
// a cancelled pull stays open on the server until it expires, and what the
// server sends it meanwhile (a check coming off its delay) reaches nobody
// and waits out the ack wait. Letting each pull end by itself and giving
// back what it brings after a stop leaves no pull open. The server sends a
// heartbeat every pullHeartbeat while a pull waits, so that a pull nobody
// serves (a consumer leader gone, a connection down) is told apart from a
// quiet one within two heartbeats.
const (
	pullWait      = 2 * time.Second
	pullHeartbeat = 500 * time.Millisecond
)

// Pull error backoff: the first retry waits pullRetryMin, each further
// failure doubles it up to pullRetryMax, with jitter so that replicas do not
// ask in step. It is short: a leader election takes seconds, and every
// second of it is a second of no work.
const (
	pullRetryMin = 250 * time.Millisecond
	pullRetryMax = 5 * time.Second
)

// goneAfter is how many pulls in a row must fail as if the consumer did not
// exist (no responders, consumer deleted) before the server is asked whether
// it does: during a leader election a consumer that exists has no
// responders either.
const goneAfter = 3

// puller takes messages from a consumer, and rides out what
// JetStream does meanwhile.
type puller struct {
	cons     jetstream.Consumer
	cfg      *ConsumeConfig
	log      *slog.Logger
	failures int // pulls in a row that failed
	gone     int // of them, pulls that failed as if the consumer did not exist
}

// take returns up to n messages, at least one unless none came within
// pullWait or a failure was waited out: first those available now, in one
// no-wait pull; when there are none, it waits for the next one (next). One
// pull request per batch instead of one per message saves a round trip,
// and its subscription, per message.
func (p *puller) take(ctx context.Context, n int) []jetstream.Msg {
	if n > 1 {
		if msgs := p.available(n); len(msgs) > 0 {
			return msgs
		}
	}
	if msg, ok := p.next(ctx); ok {
		return []jetstream.Msg{msg}
	}
	return nil
}

// available returns up to n messages the consumer has now, without
// waiting. Its failures are left to the waiting pull that follows when it
// returns none.
func (p *puller) available(n int) []jetstream.Msg {
	batch, err := p.cons.FetchNoWait(n)
	if err != nil {
		return nil
	}
	var msgs []jetstream.Msg
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	if len(msgs) > 0 {
		p.healthy()
	}
	return msgs
}

// next returns the next message, or false when there was none: none within
// pullWait, or a failure it has waited out (with backoff) before
// returning. It never returns a failure to its caller: it decides itself.
func (p *puller) next(ctx context.Context) (jetstream.Msg, bool) {
	msg, err := p.cons.Next(jetstream.FetchMaxWait(pullWait), jetstream.FetchHeartbeat(pullHeartbeat))
	if err == nil {
		p.healthy()
		return msg, true
	}
	if ctx.Err() != nil {
		return nil, false
	}
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
		p.healthy() // the server answered, with heartbeats: there was just nothing
		return nil, false
	}
	p.failures++
	p.cfg.Health.failing(err)
	if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) {
		p.gone++
	} else {
		p.gone = 0
	}
	if p.failures == 1 || p.failures%20 == 0 {
		p.log.Warn("consume: cannot pull; retrying", "err", err, "failures", p.failures)
	}
	if p.gone >= goneAfter {
		p.gone = 0
		p.recreateIfGone(ctx)
	}
	p.wait(ctx)
	return nil, false
}

func (p *puller) healthy() {
	if p.failures > 0 {
		p.log.Info("consume: pulling again", "after_failures", p.failures)
	}
	p.failures, p.gone = 0, 0
	p.cfg.Health.ok()
}

// recreateIfGone asks the server whether the consumer exists. Only when the
// server answers that it (or its stream) does not is it made again; any
// other answer (a timeout, no responders, a cluster without a leader) is
// more of the same trouble, and the loop goes on waiting. Making it again
// is CreateOrUpdate with our own configuration, so a mistaken answer costs
// nothing.
func (p *puller) recreateIfGone(ctx context.Context) {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := p.cons.Info(ictx)
	if err == nil || !(errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)) {
		return
	}
	if p.cfg.Recreate == nil {
		p.log.Error("consume: the consumer is gone and cannot be made again here; waiting for it", "err", err)
		return
	}
	p.log.Warn("consume: the consumer is gone; making it again", "err", err)
	cons, rerr := p.cfg.Recreate(ictx)
	if rerr != nil {
		p.log.Warn("consume: make the consumer again", "err", rerr)
		return
	}
	p.cons = cons
}

// wait sleeps the backoff for the current run of failures, or until ctx
// ends.
func (p *puller) wait(ctx context.Context) {
	d := pullRetryMin
	for i := 1; i < p.failures && d < pullRetryMax; i++ {
		d *= 2
	}
	d = min(d, pullRetryMax)
	d = d/2 + rand.N(d/2+1) //nolint:gosec // G404: jitter: [d/2, d]; needs no secure randomness
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Health is whether a consume loop can pull, for a readiness check. Its
// zero value says "not pulling yet"; a nil *Health records nothing.
type Health struct {
	mu     sync.Mutex
	pulled bool      // a pull has succeeded since the last failure
	err    error     // the last failure, while pulls fail
	since  time.Time // when they began to fail
}

func (h *Health) ok() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.pulled, h.err = true, nil
	h.mu.Unlock()
}

func (h *Health) failing(err error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	if h.pulled || h.err == nil {
		h.since = time.Now()
	}
	h.pulled, h.err = false, err
	h.mu.Unlock()
}

// Check is nil while pulls succeed, and otherwise names the last failure
// and how long pulls have been failing.
func (h *Health) Check(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.pulled:
		return nil
	case h.err == nil:
		return errors.New("not pulling yet")
	}
	return fmt.Errorf("cannot pull for %s: %w", time.Since(h.since).Round(time.Second), h.err)
}
