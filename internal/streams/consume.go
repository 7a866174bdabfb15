package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Handler handles one message. What it returns decides the acknowledgement
// (see Decide); it must not acknowledge the message itself.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// Middleware wraps a handler with a cross-cutting concern.
type Middleware func(Handler) Handler

// Chain applies middleware so that the first one listed is the outermost.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// ConsumeConfig configures one consume loop.
type ConsumeConfig struct {
	// Name names the loop in logs and metrics (e.g. "commands").
	Name string
	// Concurrency is how many messages are handled at once (default 4).
	Concurrency int
	// AckWait is the consumer's ack wait; the loop sends InProgress every
	// third of it while a handler runs (default 30s).
	AckWait time.Duration
	// Backoff is the redelivery delay for unclassified and Retry errors.
	Backoff Backoff
	// DrainTimeout bounds how long in-flight handlers may run after the
	// context ends; then their contexts are cancelled and the messages
	// released (default 20s).
	DrainTimeout time.Duration
	// Logger receives acknowledgement failures (default: discard).
	Logger *slog.Logger
	// Observe, when set, is called after each message with its action and
	// how long the handler ran (for metrics).
	Observe func(action Action, elapsed time.Duration)
}

func (c *ConsumeConfig) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 20 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Consume runs h over the messages of cons until ctx ends, then drains: it
// takes no new message, gives buffered ones back at once (Nak), lets
// in-flight handlers finish within DrainTimeout, and returns when all of
// them have. Every message gets exactly one acknowledgement, from Decide.
//
// All goroutines it starts are owned by this call: none outlive it.
func Consume(ctx context.Context, cons jetstream.Consumer, h Handler, cfg ConsumeConfig) error {
	cfg.defaults()
	log := cfg.Logger.With("consumer", cfg.Name)

	iter, err := cons.Messages(jetstream.PullMaxMessages(cfg.Concurrency))
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Name, err)
	}

	// Handlers run under their own context: it outlives ctx by DrainTimeout
	// so that in-flight work can finish during a drain.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	var wg sync.WaitGroup
	slots := make(chan struct{}, cfg.Concurrency)

	stopped := make(chan struct{})
	go func() { // owned: ends when ctx ends; joined through stopped
		defer close(stopped)
		<-ctx.Done()
		iter.Drain()
	}()

	for {
		msg, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				break
			}
			if ctx.Err() != nil {
				break
			}
			// Missed heartbeats and the like: the iterator recovers by itself.
			log.Warn("consume: next message", "err", err)
			continue
		}
		if ctx.Err() != nil {
			// Buffered before the drain: not started, so give it back now.
			if err := msg.Nak(); err != nil {
				log.Warn("consume: release buffered message", "err", err)
			}
			continue
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() { // owned: joined by wg below
			defer wg.Done()
			defer func() { <-slots }()
			handleOne(work, ctx, msg, h, cfg, log)
		}()
	}
	<-stopped

	// Drain: let in-flight handlers finish, then cut them short.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }() // owned: ends when wg does
	select {
	case <-done:
	case <-time.After(cfg.DrainTimeout):
		log.Warn("consume: drain timeout; cancelling in-flight handlers", "timeout", cfg.DrainTimeout)
		cancelWork()
		<-done
	}
	return nil
}

// handleOne runs h for one message, keeps it alive while it runs, and
// acknowledges it according to Decide.
func handleOne(work, parent context.Context, msg jetstream.Msg, h Handler, cfg ConsumeConfig, log *slog.Logger) {
	hctx, cancel := context.WithCancel(work)
	defer cancel()

	keepAlive := make(chan struct{})
	go func() { // owned: ends when the handler returns (keepAlive closed)
		t := time.NewTicker(cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-keepAlive:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					log.Warn("consume: in progress", "err", err)
				}
			}
		}
	}()

	start := time.Now()
	err := safeCall(hctx, msg, h)
	close(keepAlive)

	var n uint64 = 1
	if md, mdErr := msg.Metadata(); mdErr == nil {
		n = md.NumDelivered
	}
	// A handler cut short by the drain deadline was not finished: release it.
	decideCtx := parent
	if work.Err() != nil {
		decideCtx = work
	}
	act, delay := Decide(decideCtx, err, n, cfg.Backoff)

	var ackErr error
	switch act {
	case ActAck:
		ackErr = msg.Ack()
	case ActRetry:
		log.Debug("consume: retry later", "subject", msg.Subject(), "delay", delay, "deliveries", n, "err", err)
		ackErr = msg.NakWithDelay(delay)
	case ActTerm:
		log.Warn("consume: terminated message", "subject", msg.Subject(), "err", err)
		ackErr = msg.TermWithReason(truncate(err.Error(), 256))
	case ActRelease:
		ackErr = msg.Nak()
	}
	if ackErr != nil {
		log.Warn("consume: acknowledge", "action", act.String(), "err", ackErr)
	}
	if cfg.Observe != nil {
		cfg.Observe(act, time.Since(start))
	}
}

// safeCall runs h and turns a panic into a permanent error: a message that
// panics the handler would panic it again on every redelivery.
func safeCall(ctx context.Context, msg jetstream.Msg, h Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Term(fmt.Errorf("handler panic: %v", r))
		}
	}()
	return h(ctx, msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
