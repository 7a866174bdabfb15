package client

// Waiting for the answer to a monitor command: the monitor event whose id
// holds the command's sequence, read by subject like Follow reads a
// lookup's events (a subscription and direct gets, no consumer).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// MonitorResult is the monitor event that answered a monitor command.
type MonitorResult struct {
	Event   kybflow.Event
	Monitor kybflow.MonitorData
}

// Applied reports whether the command was applied; otherwise it was
// rejected, and Monitor.Code and Monitor.Reason say why.
func (r MonitorResult) Applied() bool { return r.Monitor.Code == "" }

// WaitMonitor returns the monitor event that answers the command s (its
// id is s.EventID()), waiting for it until ctx ends. An answer published
// before WaitMonitor was called is returned at once while the events
// stream keeps it. A rejected command is a MonitorResult, not an error.
//
// It reads by subject only: it subscribes to the monitor's events
// (<prefix>.events.<monitorKey>.monitor), reads the last one with a direct
// get, and again every few seconds. When the last one answers a later
// command, the answer to s may be before it: WaitMonitor then reads the
// subject's earlier events with direct gets by sequence
// ($JS.API.DIRECT.GET.<stream> with a body), which a tenant's user may not
// be allowed; it then goes on waiting, and its error says so.
func (c *Client) WaitMonitor(ctx context.Context, s MonitorSubmission) (MonitorResult, error) {
	if !kybflow.ValidLookupKey(s.Key) || s.Sequence == 0 {
		return MonitorResult{}, fmt.Errorf("wait for monitor: submission %+v names no stored command", s)
	}
	subject := c.subjects.Event(s.Key, kybflow.KindMonitor)
	want := s.EventID()
	msgs := make(chan *nats.Msg, 64)
	sub, err := c.nc.ChanSubscribe(subject, msgs)
	if err != nil {
		return MonitorResult{}, fmt.Errorf("wait for monitor %s: subscribe: %w", s.MonitorID, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	var earlierErr error // why the earlier events could not be read
	walked := ""         // the last event before which they were read
	catchUp := func() (MonitorResult, bool, error) {
		last, found, err := c.lastEvent(ctx, s.Key, kybflow.KindMonitor)
		if err != nil || !found {
			return MonitorResult{}, false, err
		}
		if r, ok := answer(last, want); ok {
			return r, true, nil
		}
		if n, ok := monitorEventNumber(last.ID, s.Key); !ok || n <= kybflow.MonitorCommandN(s.Sequence) || last.ID == walked {
			return MonitorResult{}, false, nil // not answered yet, or not before last
		}
		r, ok, err := c.earlierAnswer(ctx, subject, want)
		walked, earlierErr = last.ID, err
		return r, ok, nil
	}
	r, ok, err := catchUp() // its failure ends the wait: the caller learns at once that it cannot read
	if err != nil {
		return MonitorResult{}, fmt.Errorf("wait for monitor %s: %w", s.MonitorID, err)
	}
	recheck := time.NewTicker(followRecheck)
	defer recheck.Stop()
	for !ok {
		select {
		case <-ctx.Done():
			if earlierErr != nil {
				return MonitorResult{}, fmt.Errorf("wait for monitor %s: %w (its earlier events could not be read: %w)", s.MonitorID, ctx.Err(), earlierErr)
			}
			return MonitorResult{}, fmt.Errorf("wait for monitor %s: %w", s.MonitorID, ctx.Err())
		case <-recheck.C:
			r, ok, _ = catchUp() // a failure is tried again at the next tick
		case m := <-msgs:
			if ev, derr := kybflow.DecodeEvent(m.Data); derr == nil {
				r, ok = answer(ev, want)
			}
		}
	}
	return r, nil
}

// answer is ev as the answer with id want, and whether it is.
func answer(ev kybflow.Event, want string) (MonitorResult, bool) {
	d, ok := ev.Monitor()
	if !ok || ev.ID != want {
		return MonitorResult{}, false
	}
	return MonitorResult{Event: ev, Monitor: d}, true
}

// monitorEventNumber is the n of the id <key>.monitor.<n>.
func monitorEventNumber(id, key string) (uint64, bool) {
	s, ok := strings.CutPrefix(id, key+"."+string(kybflow.KindMonitor)+".")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// earlierAnswer reads the events of subject from the oldest, by sequence,
// until the one with id want.
func (c *Client) earlierAnswer(ctx context.Context, subject, want string) (MonitorResult, bool, error) {
	for seq := uint64(1); ; seq++ {
		data, at, found, err := c.nextOnSubject(ctx, subject, seq)
		if err != nil || !found {
			return MonitorResult{}, false, err
		}
		if ev, derr := kybflow.DecodeEvent(data); derr == nil {
			if r, ok := answer(ev, want); ok {
				return r, true, nil
			}
		}
		seq = at
	}
}

// nextOnSubject reads the first message of subject at sequence from or
// later in the events stream: its data and sequence.
func (c *Client) nextOnSubject(ctx context.Context, subject string, from uint64) ([]byte, uint64, bool, error) {
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	req, _ := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj"`
	}{from, subject})
	msg, err := c.nc.RequestWithContext(rctx, "$JS.API.DIRECT.GET."+c.subjects.EventsStream(), req)
	switch {
	case errors.Is(err, nats.ErrNoResponders): // a stream without direct gets
		s, serr := c.eventsStream(ctx)
		if serr != nil {
			return nil, 0, false, serr
		}
		raw, gerr := s.GetMsg(rctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return nil, 0, false, nil
		}
		if gerr != nil {
			return nil, 0, false, gerr
		}
		return raw.Data, raw.Sequence, true, nil
	case err != nil:
		return nil, 0, false, err
	}
	switch status := msg.Header.Get("Status"); status {
	case "":
	case "404":
		return nil, 0, false, nil
	default:
		return nil, 0, false, fmt.Errorf("status %s %s", status, msg.Header.Get("Description"))
	}
	seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return nil, 0, false, fmt.Errorf("direct get of %s: no sequence: %w", subject, err)
	}
	return msg.Data, seq, true, nil
}
