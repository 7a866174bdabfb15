package sandbox

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// WebhookSpacing is the least time between two webhooks of a session: an
// event is sent when it happens or WebhookSpacing after the session's
// previous webhook, whichever is later. With several delivery workers this
// keeps a session's webhooks in order (unless a delivery takes longer than
// that, or is retried): events that happen at the same instant, like the
// last ReportReady and AllDone, are not sent concurrently.
const WebhookSpacing = 20 * time.Millisecond

// ErrRunning is returned by Run when the dispatcher is already running.
var ErrRunning = errors.New("sandbox: Run is already running")

// delivery is one webhook message, queued until due. Retries and the
// fault knob's duplicate reuse the message id.
type delivery struct {
	due       time.Time
	seq       uint64 // ties on due keep push order
	sessionID string
	url       string
	event     amlapi.WebhookEvent
	report    amlapi.ReportType
	msgID     string
	body      []byte
	attempt   int // the attempt this delivery makes, 1-based
	duplicate bool
	dropped   bool
}

type deliveryHeap []*delivery

func (h deliveryHeap) Len() int { return len(h) }
func (h deliveryHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h deliveryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deliveryHeap) Push(x any)   { *h = append(*h, x.(*delivery)) }
func (h *deliveryHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

// dispatcher is the time-ordered webhook queue.
type dispatcher struct {
	mu   sync.Mutex
	q    deliveryHeap
	seq  uint64
	wake chan struct{} // capacity 1: "the queue's head may have changed"
}

func (d *dispatcher) init() { d.wake = make(chan struct{}, 1) }

func (d *dispatcher) push(items ...*delivery) {
	d.mu.Lock()
	for _, it := range items {
		d.seq++
		it.seq = d.seq
		heap.Push(&d.q, it)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// next pops the head if it is due at now; otherwise it returns how long
// until it is (or -1 for an empty queue).
func (d *dispatcher) next(now time.Time) (*delivery, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.q) == 0 {
		return nil, -1
	}
	if wait := d.q[0].due.Sub(now); wait > 0 {
		return nil, wait
	}
	return heap.Pop(&d.q).(*delivery), 0
}

func (d *dispatcher) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.q)
}

// scheduleWebhooks queues the webhooks of a new session, with the fault
// knobs' decisions made now: drop, duplicate, reorder, delay.
func (s *Sandbox) scheduleWebhooks(sess *session) {
	sub := sess.webhook
	if sub == nil {
		return
	}
	type ev struct {
		event  amlapi.WebhookEvent
		report amlapi.ReportType
		at     time.Time // the event's own time, in the body
		due    time.Time
	}
	var evs []ev
	add := func(e amlapi.WebhookEvent, r amlapi.ReportType, at time.Time) {
		if len(sub.Events) == 0 || slices.Contains(sub.Events, e) {
			evs = append(evs, ev{e, r, at, at})
		}
	}
	tl := &sess.tl
	if sess.failing {
		add(amlapi.EventFailed, "", tl.failAt)
	} else {
		add(amlapi.EventJSONDataReady, "", tl.ready[0])
		for i, r := range sess.reports {
			add(amlapi.EventReportReady, r, tl.ready[i+1])
		}
		add(amlapi.EventAllDone, "", tl.last())
	}
	if len(evs) == 0 {
		return
	}

	f := s.cfg.Faults
	s.rngMu.Lock()
	if f.WebhookReorderRate > 0 {
		for i := 0; i+1 < len(evs); i++ {
			if s.rng.Float64() < f.WebhookReorderRate {
				// Hold event i back until just after event i+1.
				evs[i], evs[i+1] = evs[i+1], evs[i]
				i++
			}
		}
	}
	for i := 1; i < len(evs); i++ {
		evs[i].due = later(evs[i].due, evs[i-1].due.Add(WebhookSpacing))
	}
	var items []*delivery
	for _, e := range evs {
		body, err := json.Marshal(amlapi.Webhook{SessionID: sess.id, Event: e.event, Report: e.report, Timestamp: amlapi.NewTime(e.at.UTC())})
		if err != nil {
			s.log.Error("sandbox: encode webhook", "session", sess.id, "error", err)
			continue
		}
		d := &delivery{
			due: e.due.Add(f.WebhookDelay), sessionID: sess.id, url: sub.URL, event: e.event, report: e.report,
			msgID: "msg_" + strings.ReplaceAll(newUUID(), "-", ""), body: body, attempt: 1,
		}
		d.dropped = f.WebhookDropRate > 0 && s.rng.Float64() < f.WebhookDropRate
		items = append(items, d)
		if !d.dropped && f.WebhookDuplicateRate > 0 && s.rng.Float64() < f.WebhookDuplicateRate {
			dup := *d
			dup.duplicate = true
			items = append(items, &dup)
		}
	}
	s.rngMu.Unlock()
	s.wh.push(items...)
}

// Run delivers webhooks until ctx is done: one dispatcher loop (this
// goroutine) over the time-ordered queue, and Config.WebhookWorkers
// delivery workers it owns. It returns nil once ctx is done and every
// worker has stopped (deliveries in flight are cancelled; queued ones stay
// queued for a later Run), or ErrRunning if Run is already running.
func (s *Sandbox) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)

	jobs := make(chan *delivery)
	var wg sync.WaitGroup
	defer wg.Wait()
	for range s.cfg.WebhookWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-jobs:
					s.deliver(ctx, d)
				}
			}
		})
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d, wait := s.wh.next(time.Now())
		if d != nil {
			select {
			case jobs <- d:
				continue
			case <-ctx.Done():
				s.wh.push(d)
				return nil
			}
		}
		if wait < 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wh.wake:
		case <-timer.C:
		}
	}
}

// deliver makes one attempt of d, records it, and queues a retry after a
// failure while attempts remain.
func (s *Sandbox) deliver(ctx context.Context, d *delivery) {
	rec := WebhookDelivery{
		SessionID: d.sessionID, Event: d.event, Report: d.report, MessageID: d.msgID,
		Attempt: d.attempt, Duplicate: d.duplicate, Dropped: d.dropped, Time: time.Now().UTC(),
	}
	if d.dropped {
		s.insp.webhook(rec)
		s.log.Info("sandbox: webhook dropped (fault knob)", "session", d.sessionID, "event", string(d.event))
		return
	}
	status, err := s.post(ctx, d)
	rec.Status = status
	if err != nil {
		rec.Error = err.Error()
	}
	s.insp.webhook(rec)
	ok := err == nil && status >= 200 && status < 300
	log := s.log.With("session", d.sessionID, "event", string(d.event), "attempt", d.attempt, "status", status)
	switch {
	case ok:
		log.Info("sandbox: webhook delivered")
	case ctx.Err() != nil:
		log.Info("sandbox: webhook delivery cancelled by shutdown")
	case d.attempt >= s.cfg.WebhookRetry.Attempts:
		log.Warn("sandbox: webhook delivery failed, giving up", "error", rec.Error)
	default:
		wait := s.cfg.WebhookRetry.backoff(d.attempt)
		log.Info("sandbox: webhook delivery failed, will retry", "error", rec.Error, "retry_in", wait)
		d.attempt++
		d.due = time.Now().Add(wait)
		s.wh.push(d)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// post sends d once and returns the HTTP status.
func (s *Sandbox) post(ctx context.Context, d *delivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", amlapi.ContentTypeJSON)
	req.Header.Set("User-Agent", "kybflow-aml-sandbox")
	if err := s.authenticateWebhook(req.Header, d, time.Now()); err != nil {
		return 0, err
	}
	resp, err := s.cfg.WebhookClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drained for reuse of the connection; the status is the answer
	return resp.StatusCode, nil
}
