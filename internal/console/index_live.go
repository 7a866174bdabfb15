package console

// Live updates: every change the index applies is sent to its
// subscribers (the pages' server-sent events). Each subscription has a
// bounded buffer; one that falls behind is ended rather than let block the
// index or grow: its owner sees Lagged and starts again from a fresh page.

import (
	"sync"
	"time"

	"github.com/kybflow/kybflow"
)

// Update is a change of one lookup.
type Update struct {
	Key   string
	State State
	Kind  kybflow.Kind // of the event that made it
	At    time.Time    // the event's time
	New   bool         // the lookup's first event
}

// SubscriptionBuffer is the number of updates a subscription holds before
// it lags.
const SubscriptionBuffer = 256

// Subscription receives the index's updates until Close, or until it lags.
type Subscription struct {
	ix     *Index
	c      chan Update
	once   sync.Once
	lagged bool // set, under ix.subsMu, before c is closed for lagging
}

// Subscribe starts a subscription to every update from now on. Its owner
// must Close it.
func (ix *Index) Subscribe() *Subscription {
	s := &Subscription{ix: ix, c: make(chan Update, SubscriptionBuffer)}
	ix.subsMu.Lock()
	ix.subs[s] = struct{}{}
	ix.subsMu.Unlock()
	return s
}

// C delivers the updates. It is closed by Close, or when the subscription
// lags.
func (s *Subscription) C() <-chan Update { return s.c }

// Lagged reports whether C was closed because the subscriber fell behind.
func (s *Subscription) Lagged() bool {
	s.ix.subsMu.Lock()
	defer s.ix.subsMu.Unlock()
	return s.lagged
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.ix.subsMu.Lock()
	defer s.ix.subsMu.Unlock()
	s.end()
}

// end removes s and closes its channel, once; under ix.subsMu.
func (s *Subscription) end() {
	s.once.Do(func() {
		delete(s.ix.subs, s)
		close(s.c)
	})
}

// publish sends u to every subscriber without waiting; one whose buffer
// is full lags.
func (ix *Index) publish(u Update) {
	ix.subsMu.Lock()
	defer ix.subsMu.Unlock()
	for s := range ix.subs {
		select {
		case s.c <- u:
		default:
			s.lagged = true
			s.end()
		}
	}
}

// Subscribers is the number of open subscriptions.
func (ix *Index) Subscribers() int {
	ix.subsMu.Lock()
	defer ix.subsMu.Unlock()
	return len(ix.subs)
}
