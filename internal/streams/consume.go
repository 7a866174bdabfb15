package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Handler handles one message. The Outcome it returns decides the
// acknowledgement (Decide); it must not acknowledge the message itself.
type Handler func(ctx context.Context, msg jetstream.Msg) Outcome

// ConsumeConfig configures one consume loop.
type ConsumeConfig struct {
	// Name names the loop in logs and metrics (e.g. "commands").
	Name string
	// Concurrency is how many messages are handled at once (required).
	Concurrency int
	// Backoff is the redelivery delay for unclassified and Retry errors.
	Backoff Backoff
	// HandlerTimeout bounds one handler run (0: no bound). A handler stuck
	// on a peer that stays connected and sends nothing would otherwise
	// keep its message alive with InProgress, and its slot busy, forever.
	HandlerTimeout time.Duration
	// DrainTimeout bounds how long in-flight handlers may run after the
	// context ends; then their contexts are cancelled and the messages
	// released (required).
	DrainTimeout time.Duration
	// Recreate, when set, makes the consumer again (and its stream) when
	// the server confirms it is gone, and returns the new handle.
	Recreate func(ctx context.Context) (jetstream.Consumer, error)
	// Health, when set, records whether the loop can pull.
	Health *Health
	// Logger receives acknowledgement failures (default: discard).
	Logger *slog.Logger
	// Observe, when set, is called after each message with its action and
	// how long the handler ran (for metrics).
	Observe func(action Action, elapsed time.Duration)

	// ackWait is the consumer's ack wait, read from the consumer: the loop
	// sends InProgress every third of it while a handler runs.
	ackWait time.Duration
}

// prepare checks the settings (they come from the worker's validated
// configuration, which holds their defaults) and reads the ack wait from
// the consumer.
func (c *ConsumeConfig) prepare(cons jetstream.Consumer) error {
	if c.Concurrency < 1 || c.DrainTimeout <= 0 {
		return fmt.Errorf("consume %s: Concurrency and DrainTimeout are required", c.Name)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.ackWait = 30 * time.Second // the server's default
	if info := cons.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		c.ackWait = info.Config.AckWait
	}
	return nil
}

// Consume runs h over the messages of cons until ctx ends, then drains: it
// takes no new message, lets in-flight handlers finish within DrainTimeout,
// and returns when all of them have. Every message gets exactly one
// acknowledgement, from Decide.
//
// It pulls as many messages as it has free slots, in one pull, and buffers
// none: a message is taken only when a handler can start on it at once, so
// none waits in our hands without keep-alives, and what we cannot start
// stays on the server for another replica (puller.take).
//
// Trouble with JetStream never ends it: no responders, missing heartbeats,
// a leader election, a reconnect, a consumer or stream unavailable for a
// while. It waits with backoff and pulls again, and Health says it cannot
// pull meanwhile. A consumer that the server confirms gone (deleted by
// hand, or its stream) is made again with Recreate.
//
// All goroutines it starts are owned by this call: none outlive it.
func Consume(ctx context.Context, cons jetstream.Consumer, h Handler, cfg ConsumeConfig) error {
	if err := cfg.prepare(cons); err != nil {
		return err
	}
	log := cfg.Logger.With("consumer", cfg.Name)

	// Handlers run under their own context: it outlives ctx by DrainTimeout
	// so that in-flight work can finish during a drain.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	// Concurrency handler goroutines, for as long as the loop runs: a
	// goroutine per message would grow a new stack on every message (the
	// handlers go deep: HTTP, S3, JSON). A message is handed over only
	// once its slot is taken, so a handler is free or about to be.
	var wg sync.WaitGroup
	slots := make(chan struct{}, cfg.Concurrency)
	handoff := make(chan jetstream.Msg)
	for range cfg.Concurrency {
		wg.Go(func() { // owned: ends when handoff is closed, joined by wg below
			for msg := range handoff {
				handleOne(work, msg, h, cfg, log)
				<-slots
			}
		})
	}
	p := puller{cons: cons, cfg: &cfg, log: log}
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		// Every free slot, taken at once: that many messages may start now.
		n := 1
	free:
		for n < cfg.Concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break free
			}
		}
		msgs := p.take(ctx, n)
		for range n - len(msgs) {
			<-slots
		}
		if ctx.Err() != nil {
			// They arrived as we stopped: never started, so give them back now.
			for _, msg := range msgs {
				<-slots
				if err := msg.Nak(); err != nil {
					log.Warn("consume: release message", "err", err)
				}
			}
			break
		}
		for _, msg := range msgs {
			handoff <- msg
		}
	}

	// Drain: let in-flight handlers finish, then cut them short.
	close(handoff)
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
func handleOne(work context.Context, msg jetstream.Msg, h Handler, cfg ConsumeConfig, log *slog.Logger) {
	hctx, cancel := handlerContext(work, cfg.HandlerTimeout)
	defer cancel()

	// Keep-alives every third of the ack wait while the handler runs, from
	// a timer (most handlers finish long before the first is due).
	var mu sync.Mutex
	handled := false
	var keepAlive *time.Timer
	mu.Lock() // keepAlive is set before its function runs
	keepAlive = time.AfterFunc(cfg.ackWait/3, func() {
		mu.Lock()
		defer mu.Unlock()
		if handled {
			return
		}
		if err := msg.InProgress(); err != nil {
			log.Warn("consume: in progress", "err", err)
		}
		keepAlive.Reset(cfg.ackWait / 3)
	})
	mu.Unlock()

	start := time.Now()
	o := safeCall(hctx, msg, h, log)
	mu.Lock()
	handled = true
	keepAlive.Stop()
	mu.Unlock()

	var n uint64 = 1
	if md, mdErr := msg.Metadata(); mdErr == nil {
		n = md.NumDelivered
	}
	// A handler cut short by the drain deadline (work ended) was not
	// finished: Decide releases it.
	act, delay := Decide(work, o, n, cfg.Backoff)

	var ackErr error
	switch act {
	case ActAck:
		ackErr = msg.Ack()
	case ActRetry:
		log.Debug("consume: retry later", "subject", msg.Subject(), "delay", delay, "deliveries", n, "err", loggable(o.Err()))
		ackErr = msg.NakWithDelay(delay)
	case ActTerm:
		log.Warn("consume: terminated message", "subject", msg.Subject(), "err", loggable(o.Err()))
		ackErr = msg.TermWithReason(termReason(o.Err()))
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

// handlerContext is the context of one handler: work's, cut at timeout (if
// any). Exactly one child of work is made per message, and its cancel
// removes it from work: work lives as long as the loop, so a child left
// behind would stay for good (it did: a first child, replaced by the
// timeout's, leaked about 130 bytes per message).
func handlerContext(work context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(work, timeout)
	}
	return context.WithCancel(work)
}

// PanicDelay is how long a message whose handler panicked waits before it
// is tried again. Terminating it would strand the lookup it drives; trying
// it at once would spin. The panic is logged with its stack, for a fix.
const PanicDelay = 5 * time.Minute

// safeCall runs h and turns a panic into a long-delayed retry.
func safeCall(ctx context.Context, msg jetstream.Msg, h Handler, log *slog.Logger) (o Outcome) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("consume: handler panic; the message is retried later", "subject", msg.Subject(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			o = Retry(fmt.Errorf("handler panic: %v", r), PanicDelay)
		}
	}()
	return h(ctx, msg)
}

// loggable is err for a log: its redacting LogValue when something in its
// chain has one (a command error may quote what the caller sent, which can
// be personal), else its text.
func loggable(err error) any {
	if err == nil {
		return nil
	}
	var lv slog.LogValuer
	if errors.As(err, &lv) {
		return lv
	}
	return err.Error()
}

// termReason is what the server keeps as a terminated message's reason: the
// error's text, unless it carries redacted detail.
func termReason(err error) string {
	if err == nil {
		return "terminated"
	}
	var lv slog.LogValuer
	if errors.As(err, &lv) {
		return "permanent error; see the lookup's failed event"
	}
	return truncate(err.Error(), 256)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
