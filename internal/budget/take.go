package budget

// Taking a session from the budget, and giving it back: a counter per
// limit and window, changed by compare-and-set.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Budget takes sessions from the counters in a key-value bucket (made by
// streams.Ensure, with a max age longer than the longest window).
type Budget struct {
	kv     jetstream.KeyValue
	limits []Limit
	now    func() time.Time
}

// New returns the budget of limits over kv; with no limits, every Take
// succeeds without a request. now is the clock (nil: time.Now).
func New(kv jetstream.KeyValue, limits []Limit, now func() time.Time) *Budget {
	if now == nil {
		now = time.Now
	}
	return &Budget{kv: kv, limits: limits, now: now}
}

// Limited reports whether the budget has any limit.
func (b *Budget) Limited() bool { return len(b.limits) > 0 }

// Grant is a session taken from the budget: the counters it counts in.
// Give it back if the session was not opened after all.
type Grant struct {
	keys []string
}

// requestTimeout bounds one counter request: the caller's context may
// allow minutes, a request lost with a server must fail in seconds.
const requestTimeout = 5 * time.Second

// rounds bounds the compare-and-set rounds on one counter.
const rounds = 20

// Take counts one session for source in the current window of every
// limit. Over a limit, it counts nothing (a counter it moved already is
// given back) and returns an *Exhausted (errors.Is ErrExhausted) naming
// when the full window ends.
func (b *Budget) Take(ctx context.Context, source Source) (Grant, error) {
	var g Grant
	now := b.now()
	for _, l := range b.limits {
		i, end := l.window(now)
		key := l.key(i)
		ok, err := b.add(ctx, key, 1, l.allowed(source))
		if err == nil && !ok {
			err = &Exhausted{Limit: l, Until: end, Wait: end.Sub(now)}
		}
		if err != nil {
			b.Give(context.WithoutCancel(ctx), g)
			return Grant{}, err
		}
		g.keys = append(g.keys, key)
	}
	return g, nil
}

// Give gives a grant back: its session was not opened (the create call
// failed, or the lease was lost). Best effort: a counter it cannot move
// back stays one high until its window ends.
func (b *Budget) Give(ctx context.Context, g Grant) {
	for _, key := range g.keys {
		_, _ = b.add(ctx, key, -1, 0)
	}
}

// add moves the counter at key by delta; a move up is refused (false)
// when the counter is at most already. A move down never goes below 0.
func (b *Budget) add(ctx context.Context, key string, delta, most int) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	for range rounds {
		n, rev, err := b.read(ctx, key)
		if err != nil {
			return false, err
		}
		if delta > 0 && n+delta > most {
			return false, nil
		}
		next := []byte(strconv.Itoa(max(n+delta, 0)))
		if rev == 0 {
			_, err = b.kv.Create(ctx, key, next)
		} else {
			_, err = b.kv.Update(ctx, key, next, rev)
		}
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return false, fmt.Errorf("session budget %s: %w", key, err)
		}
	}
	return false, fmt.Errorf("session budget %s: too many concurrent changes", key)
}

// read is the counter at key and its revision (0: no counter yet).
func (b *Budget) read(ctx context.Context, key string) (int, uint64, error) {
	e, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("session budget %s: %w", key, err)
	}
	n, err := strconv.Atoi(string(e.Value()))
	if err != nil {
		return 0, 0, fmt.Errorf("session budget %s: counter %q: %w", key, e.Value(), err)
	}
	return n, e.Revision(), nil
}

// Left is, for each limit, how many sessions its current window has left
// for on-demand lookups.
func (b *Budget) Left(ctx context.Context) (map[Limit]int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out := make(map[Limit]int, len(b.limits))
	now := b.now()
	for _, l := range b.limits {
		i, _ := l.window(now)
		n, _, err := b.read(ctx, l.key(i))
		if err != nil {
			return nil, err
		}
		out[l] = max(l.Max-n, 0)
	}
	return out, nil
}

// MaxWindow is the longest window of limits (0 without any): the counters'
// bucket must keep a counter at least that long.
func MaxWindow(limits []Limit) time.Duration {
	var w time.Duration
	for _, l := range limits {
		w = max(w, l.Window)
	}
	return w
}
