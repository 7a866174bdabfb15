package client

// Reading one lookup's events by subject: Follow and Wait, with direct
// gets and a subscription, so that a tenant's user needs no consumer.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// lastEvent reads the last event of kind of the lookup named key from the
// events stream, by its subject: a direct get, which a NATS user can be
// allowed for its own subjects only ($JS.API.DIRECT.GET.<stream>.<subject>).
// Against an events stream made before direct gets were allowed on it (no
// responders), it reads through the stream's API instead.
func (c *Client) lastEvent(ctx context.Context, key string, kind kybflow.Kind) (kybflow.Event, bool, error) {
	subject := c.subjects.Event(key, kind)
	// Bounded like a JetStream API call: a request the servers never
	// answer (a permission refused, a reply lost in a reconnect) must not
	// hold the caller for as long as its context.
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, "$JS.API.DIRECT.GET."+c.subjects.EventsStream()+"."+subject, nil)
	var data []byte
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		s, serr := c.eventsStream(ctx)
		if serr != nil {
			return kybflow.Event{}, false, serr
		}
		raw, gerr := s.GetLastMsgForSubject(rctx, subject)
		if errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return kybflow.Event{}, false, nil
		}
		if gerr != nil {
			return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: %w (the events stream %s does not allow direct gets, "+
				"which a tenant's user needs: start a worker of this version, or run worker topology)", kind, key, gerr, c.subjects.EventsStream())
		}
		data = raw.Data
	case err != nil:
		return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: %w", kind, key, err)
	default:
		switch status := msg.Header.Get("Status"); status {
		case "":
			data = msg.Data
		case "404":
			return kybflow.Event{}, false, nil
		default:
			return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: status %s %s", kind, key, status, msg.Header.Get("Description"))
		}
	}
	ev, err := kybflow.DecodeEvent(data)
	if err != nil {
		return kybflow.Event{}, false, fmt.Errorf("read the %s event of %s: %w", kind, key, err)
	}
	return ev, true, nil
}

func (c *Client) eventsStream(ctx context.Context) (jetstream.Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events != nil {
		return c.events, nil
	}
	s, err := c.js.Stream(ctx, c.subjects.EventsStream())
	if err != nil {
		return nil, fmt.Errorf("events stream %s: %w (has a worker started?)", c.subjects.EventsStream(), err)
	}
	c.events = s
	return s, nil
}

// Result is the ending of a lookup: exactly one of Completed and Failed is
// set, with the data of its terminal event, which Event is.
type Result struct {
	Event     kybflow.Event
	Completed *kybflow.CompletedData
	Failed    *kybflow.FailedData
}

// readTimeout bounds one read of an event.
const readTimeout = 5 * time.Second

// followRecheck is how often Follow reads the lookup's events again while
// it waits: a subscription misses what is published while the connection
// is down.
const followRecheck = 10 * time.Second

// Follow calls handle with each event of one lookup, each once, until ctx
// ends (its error is returned) or handle returns ErrStop (then Follow
// returns nil) or another error (returned). Events published before Follow
// was called come first, in the order of a lookup's life; then each as it
// is published.
//
// It reads by subject only, and needs no consumer: it subscribes to the
// lookup's events, reads the last event of each kind from the stream with
// a direct get, and reads them again every few seconds. So a NATS user
// allowed only its own tenant's event subjects can follow its lookups (see
// docs/contract.md, Tenants). To follow many lookups, use Events. The
// monitor events of a monitor named like the lookup, which share its
// subjects' key, are not delivered (WaitMonitor reads those).
func (c *Client) Follow(ctx context.Context, lookupID string, handle func(kybflow.Event) error) error {
	if !kybflow.ValidLookupID(lookupID) {
		return fmt.Errorf("follow: invalid lookupId %q", lookupID)
	}
	key := kybflow.LookupKey(c.tenant, lookupID)
	msgs := make(chan *nats.Msg, 64)
	sub, err := c.nc.ChanSubscribe(c.subjects.EventsFor(key), msgs)
	if err != nil {
		return fmt.Errorf("follow %s: subscribe: %w", lookupID, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	seen := map[string]bool{}
	deliver := func(ev kybflow.Event) error {
		if seen[ev.ID] || ev.Kind() == kybflow.KindMonitor {
			return nil // a monitor named like the lookup shares its subjects
		}
		seen[ev.ID] = true
		return handle(ev)
	}
	// catchUp reads the last event of each kind, and what the subscription
	// received meanwhile (an event published between two reads arrives
	// there, before the reply of the next read), and delivers them, with
	// extra, in the order of a lookup's life. It reads the latest kinds
	// first: the worker publishes a lookup's events one after the other,
	// each once the one before is stored, so an event found means every
	// earlier one is stored and found by the reads after it.
	catchUp := func(extra ...kybflow.Event) error {
		found := slices.Clone(extra)
		kinds := slices.Clone(kybflow.Kinds())
		slices.Reverse(kinds)
		for _, kind := range kinds {
			if kind == kybflow.KindMonitor {
				continue // not a lookup's
			}
			ev, ok, err := c.lastEvent(ctx, key, kind)
			if err != nil {
				return &readError{err}
			}
			if ok {
				found = append(found, ev)
			}
		}
		for drained := false; !drained; {
			select {
			case m := <-msgs:
				if ev, derr := kybflow.DecodeEvent(m.Data); derr == nil {
					found = append(found, ev)
				}
			default:
				drained = true
			}
		}
		slices.SortStableFunc(found, func(a, b kybflow.Event) int {
			return slices.Index(kybflow.Kinds(), a.Kind()) - slices.Index(kybflow.Kinds(), b.Kind())
		})
		for _, ev := range found {
			if err := deliver(ev); err != nil {
				return err
			}
		}
		return nil
	}
	recheck := time.NewTicker(followRecheck)
	defer recheck.Stop()
	err = catchUp() // its failure ends Follow: the caller learns at once that it cannot read
	for err == nil {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-recheck.C:
			// A later read that fails (a leader election, a reconnect) is
			// tried again at the next tick; what handle returns ends it.
			if cerr := catchUp(); errors.Is(cerr, ErrStop) || (cerr != nil && !readFailure(cerr)) {
				err = cerr
			}
		case m := <-msgs:
			ev, derr := kybflow.DecodeEvent(m.Data)
			switch {
			case derr != nil:
			case ev.Kind().Terminal() || ev.Kind() == kybflow.KindErased:
				// An ending ends following: first read what came before it,
				// all stored by now, in case one was published before the
				// subscription began but stored after its read.
				if err = catchUp(ev); readFailure(err) {
					err = deliver(ev)
				}
			default:
				err = deliver(ev)
			}
		}
	}
	switch {
	case errors.Is(err, ErrStop):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("follow %s: %w", lookupID, ctx.Err())
	}
	return fmt.Errorf("follow %s: %w", lookupID, err)
}

// Wait returns the lookup's ending, waiting for it until ctx ends. A lookup
// that ended before Wait was called is returned at once (the events stream
// keeps events for EVENTS_MAX_AGE). A failed lookup is a Result, not an
// error. It reads by subject only, as Follow does.
func (c *Client) Wait(ctx context.Context, lookupID string) (Result, error) {
	var res Result
	err := c.Follow(ctx, lookupID, func(ev kybflow.Event) error {
		if res = resultOf(ev); res.Completed != nil || res.Failed != nil {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("wait: %w", err)
	}
	return res, nil
}

// readFailure reports whether err is lastEvent's own failure (not one of
// the handler's): lastEvent wraps each in readError.
func readFailure(err error) bool {
	var re *readError
	return errors.As(err, &re)
}

// readError is a failure to read an event, as opposed to an error of
// Follow's handler.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// resultOf is the Result of an ending event; an empty one for another.
func resultOf(ev kybflow.Event) Result {
	switch d := ev.Data.(type) {
	case kybflow.CompletedData:
		return Result{Event: ev, Completed: &d}
	case kybflow.FailedData:
		return Result{Event: ev, Failed: &d}
	}
	return Result{}
}
