package console

// Feeding the index: an ordered consumer of the events stream from its
// first message. It is remade by nats.go after a reconnection (from the
// last sequence it delivered) and by Run after any other failure (the
// stream not there yet, say), from the sequence after the last one
// applied.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// indexStatus is how far the index has read, for readiness.
type indexStatus struct {
	mu       sync.Mutex
	caughtUp bool  // it has applied what the stream held when it started
	err      error // why it is not reading, until it is
}

// Ready reports nil once the index has read the events the stream held
// when it started, and why not until then.
func (ix *Index) Ready(context.Context) error {
	ix.status.mu.Lock()
	defer ix.status.mu.Unlock()
	switch {
	case ix.status.err != nil:
		return ix.status.err
	case !ix.status.caughtUp:
		return errors.New("reading the events stream")
	}
	return nil
}

func (ix *Index) setStatus(caughtUp bool, err error) {
	ix.status.mu.Lock()
	defer ix.status.mu.Unlock()
	ix.status.caughtUp = ix.status.caughtUp || caughtUp
	ix.status.err = err
}

// Retry delays of Run after a failure to read the stream.
const (
	retryFirst = 250 * time.Millisecond
	retryMax   = 10 * time.Second
)

// Run reads the events stream of subjects into the index until ctx ends.
// It returns nil then; it never gives up before.
func (ix *Index) Run(ctx context.Context, js jetstream.JetStream, subjects kybflow.Subjects, log *slog.Logger) error {
	wait := retryFirst
	for {
		err := ix.read(ctx, js, subjects, log)
		if ctx.Err() != nil {
			return nil //nolint:nilerr // err is ctx's ending: the way Run stops
		}
		ix.setStatus(false, err)
		log.Warn("console index: reading the events stream", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// read consumes the stream from the sequence after the last one applied
// until ctx ends or the consumer fails.
func (ix *Index) read(ctx context.Context, js jetstream.JetStream, subjects kybflow.Subjects, log *slog.Logger) error {
	stream := subjects.EventsStream()
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjects.EventsAll()}, DeliverPolicy: jetstream.DeliverAllPolicy}
	ix.mu.RLock()
	if last := ix.lastSeq; last > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, last+1
	}
	ix.mu.RUnlock()
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("consume %s: %w", stream, err)
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		ix.setStatus(true, nil)
	} else {
		ix.setStatus(false, nil)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", stream, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if ev, err := kybflow.DecodeEvent(msg.Data()); err != nil {
			log.Warn("console index: an event it cannot read", "subject", msg.Subject(), "seq", md.Sequence.Stream, "err", err)
			ix.skip(md.Sequence.Stream)
		} else {
			ix.Apply(md.Sequence.Stream, ev)
		}
		if md.NumPending == 0 {
			ix.setStatus(true, nil)
		}
	}
}
