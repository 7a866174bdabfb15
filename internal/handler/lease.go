package handler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kybflow/kybflow/internal/lookups"
)

// The opening lease. A replica that claims a lookup (state opening) holds a
// short lease (Config.Lease, the worker's OPEN_LEASE) and renews it every third of it
// while its create-session call is in flight, so a live holder keeps its
// claim however long the API takes, and a dead one loses it within one
// lease. If the renewals stop succeeding (NATS unreachable, or another
// replica took over), the create call is cancelled leaseMargin before the
// lease it last holds ends: no replica may still be creating a session
// when another may take over.

// leaseMargin is how long before its lease ends a create call must have
// ended if the lease could not be renewed: time to record the session.
func (h *Handlers) leaseMargin() time.Duration { return h.c.Lease / 4 }

// newLeaseHolder is a fresh claim token.
func newLeaseHolder() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lease keeps a claimed record's lease alive while its holder works.
type lease struct {
	h        *Handlers
	ctx      context.Context // cancelled when the lease can no longer be counted on
	cancel   context.CancelFunc
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	mu  sync.Mutex
	rec lookups.Record // the record as last written by us
	rev uint64
	err error // why the lease was lost, if it was
}

// holdLease starts renewing the lease of rec (just claimed at rev). The
// caller works under l.ctx and calls l.release to stop the renewals and
// learn the record's latest revision.
func (h *Handlers) holdLease(ctx context.Context, rec lookups.Record, rev uint64) *lease {
	lctx, cancel := context.WithCancel(ctx)
	l := &lease{h: h, ctx: lctx, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{}), rec: rec, rev: rev}
	go l.renew() //nolint:contextcheck // renews under l.ctx, derived from ctx above; owned: release stops it and waits for it
	return l
}

// renew renews the lease every third of it. Each renewal moves the
// deadline of l.ctx to leaseMargin before the new end; a failed renewal
// leaves the old deadline, which cancels the work if none succeeds in time.
func (l *lease) renew() {
	defer close(l.done)
	h := l.h
	deadline := time.NewTimer(time.Until(l.rec.LeaseUntil.Add(-h.leaseMargin())))
	defer deadline.Stop()
	tick := time.NewTicker(h.c.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.ctx.Done():
			// The work ended without release (a panic unwound it, or the
			// handler's context ended): renew no more.
			return
		case <-deadline.C:
			l.lose(errors.New("opening lease not renewed in time"))
			return
		case <-tick.C:
		}
		until, err := l.renewOnce()
		if errors.Is(err, errLeaseTaken) {
			l.lose(err)
			return
		}
		if err != nil {
			h.log.Warn("renew opening lease; trying again", "lookup_id", l.rec.Command.Key(), "err", err)
			continue
		}
		deadline.Reset(time.Until(until.Add(-h.leaseMargin())))
	}
}

// errLeaseTaken: the record moved on without us (another replica took the
// lookup over, or it ended).
var errLeaseTaken = errors.New("opening lease taken over by another replica")

// renewOnce writes a later lease end; it returns the new end.
func (l *lease) renewOnce() (time.Time, error) {
	h := l.h
	l.mu.Lock()
	rec, rev := l.rec, l.rev
	l.mu.Unlock()
	holder, until := rec.LeaseHolder, h.c.Now().Add(h.c.Lease)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), h.c.Lease/3)
	defer cancel()
	// A conflict is an earlier renewal applied unheard: still ours if the
	// record says so (RenewLease), and renewed on top of it.
	rec, next, err := h.c.Lookups.Apply(ctx, rec, rev, func(r *lookups.Record) error { return r.RenewLease(holder, until) })
	if errors.Is(err, lookups.ErrMoved) || errors.Is(err, lookups.ErrEnded) || errors.Is(err, lookups.ErrErased) {
		return time.Time{}, fmt.Errorf("%w: %w", errLeaseTaken, err)
	}
	if err != nil {
		return time.Time{}, err
	}
	l.mu.Lock()
	l.rec, l.rev = rec, next
	l.mu.Unlock()
	return until, nil
}

func (l *lease) lose(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	l.cancel()
}

// release stops the renewals and returns the record as last written, its
// revision, and why the lease was lost (nil if it is still held). It may be
// called more than once (open defers it, for a panic).
func (l *lease) release() (lookups.Record, uint64, error) {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	l.cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec, l.rev, l.err
}
