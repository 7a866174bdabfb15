package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// Limits of List.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Auditor records entries in the audit stream and lists them.
type Auditor struct {
	js    jetstream.JetStream
	names Names
	now   func() time.Time
}

// New is the Auditor of the deployment with the subject prefix ("" for
// the default) on js. The stream must exist (Ensure).
func New(js jetstream.JetStream, prefix string) (*Auditor, error) {
	n, err := NamesOf(prefix)
	if err != nil {
		return nil, err
	}
	return &Auditor{js: js, names: n, now: time.Now}, nil
}

// Names are the audit's stream and subjects.
func (a *Auditor) Names() Names { return a.names }

// Record stores e, and returns once JetStream has (an ack), so that what
// it records may happen: an error means it must not. An empty ID gets a
// random one, a zero At the time now.
func (a *Auditor) Record(ctx context.Context, e Entry) error {
	if e.ID == "" {
		e.ID = newID()
	}
	if e.At.IsZero() {
		e.At = a.now()
	}
	e.At = e.At.UTC()
	if err := e.Validate(); err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	msg := &nats.Msg{Subject: a.names.Subject(e.LookupKey), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, e.ID)
	if _, err := a.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(a.names.Stream())); err != nil {
		return fmt.Errorf("audit: record %s %s: %w", e.Action, e.ID, err)
	}
	return nil
}

// Filter chooses the entries List returns.
type Filter struct {
	LookupKey string // one lookup's entries; "" for all
	Limit     int    // the newest this many (0: DefaultLimit; at most MaxLimit)
}

// ErrUnreadable is wrapped by List's error for a message of the stream
// that is no entry.
var ErrUnreadable = errors.New("unreadable audit entry")

// List returns the newest entries that f chooses, newest first. It reads
// with an ephemeral consumer that it deletes: of all entries, the last
// Limit messages of the stream; of one lookup, that lookup's subject.
func (a *Auditor) List(ctx context.Context, f Filter) ([]Entry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	if f.LookupKey != "" && !kybflow.ValidLookupKey(f.LookupKey) {
		return nil, fmt.Errorf("audit: list: %w: lookup key %q is not one", ErrInvalid, f.LookupKey)
	}
	st, err := a.js.Stream(ctx, a.names.Stream())
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	state := st.CachedInfo().State
	if state.Msgs == 0 {
		return nil, nil
	}
	cfg := jetstream.ConsumerConfig{
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if f.LookupKey != "" {
		cfg.FilterSubject = a.names.Subject(f.LookupKey)
	} else if state.LastSeq >= uint64(limit) && state.LastSeq-uint64(limit)+1 > state.FirstSeq {
		// Every message is an entry and none is ever deleted: the last
		// Limit sequences are the newest Limit entries.
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, state.LastSeq-uint64(limit)+1
	}
	cons, err := st.CreateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: list: consumer: %w", err)
	}
	info := cons.CachedInfo()
	defer func() {
		// The server also removes it after InactiveThreshold.
		_ = st.DeleteConsumer(context.WithoutCancel(ctx), info.Name) //nolint:contextcheck // cleanup, also when ctx ended
	}()
	pending := int(info.NumPending) //nolint:gosec // bounded by the stream's messages
	ring := make([]Entry, 0, min(limit, pending))
	next := 0 // where the next entry goes once ring is full
	for read := 0; read < pending; {
		batch, err := cons.Fetch(min(pending-read, 256), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("audit: list: fetch: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var e Entry
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				meta, _ := m.Metadata()
				seq := uint64(0)
				if meta != nil {
					seq = meta.Sequence.Stream
				}
				return nil, fmt.Errorf("audit: list: %w at sequence %d: %w", ErrUnreadable, seq, err)
			}
			if len(ring) < limit {
				ring = append(ring, e)
			} else {
				ring[next] = e
				next = (next + 1) % limit
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("audit: list: fetch: %w", err)
		}
		if n == 0 {
			break // expired meanwhile (AUDIT_MAX_AGE)
		}
		read += n
	}
	// ring holds the newest, oldest first from next: reverse into newest first.
	if len(ring) == 0 {
		return nil, nil
	}
	out := make([]Entry, 0, len(ring))
	for i := range ring {
		out = append(out, ring[(next+len(ring)-1-i)%len(ring)])
	}
	return out, nil
}
