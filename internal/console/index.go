package console

// The index: what the console knows of every lookup, kept in memory from
// the events stream (an ordered consumer from its first message), so that
// a page never scans the lookups bucket. It holds what the pages show and
// no more: no event bodies, no metadata, no identifiers; strings that
// repeat (types, countries, tenants, artifact names, buckets, signers) are
// interned with package unique, hashes held as bytes. About 0.8 KB a
// completed lookup with three artifacts in the index (BenchmarkIndexMemory);
// the whole console's live heap is 1.4-1.5 KB a lookup
// (BenchmarkConsoleAtScale, docs/performance.md).
//
// Events change an entry only through apply, in stream order; readers take
// a copy under the read lock (Lookup, Query).

import (
	"encoding/hex"
	"slices"
	"sync"
	"time"
	"unique"

	"github.com/kybflow/kybflow"
)

// State is where a lookup stands, as the console shows it.
type State uint8

// The states. Waiting: accepted or session opened so far.
const (
	StateWaiting State = iota + 1
	StateCompleted
	StateFailed
	StateErased
)

// States lists the states in the order the filter offers them.
func States() []State { return []State{StateWaiting, StateCompleted, StateFailed, StateErased} }

func (s State) String() string {
	switch s {
	case StateWaiting:
		return "waiting"
	case StateCompleted:
		return "completed"
	case StateFailed:
		return "failed"
	case StateErased:
		return "erased"
	}
	return "unknown"
}

// ParseState reads a state's name; "" and unknown names are false.
func ParseState(s string) (State, bool) {
	for _, st := range States() {
		if st.String() == s {
			return st, true
		}
	}
	return 0, false
}

// kindCodes numbers the event kinds of a lookup's timeline (an event holds
// the index into it, plus one).
func kindCodes() []kybflow.Kind { return kybflow.Kinds() }

func kindCode(k kybflow.Kind) uint8 {
	if i := slices.Index(kindCodes(), k); i >= 0 {
		return uint8(i + 1)
	}
	return 0
}

func kindOf(code uint8) kybflow.Kind {
	if codes := kindCodes(); code > 0 && int(code) <= len(codes) {
		return codes[code-1]
	}
	return ""
}

// event is one event of a lookup's timeline: 24 bytes.
type event struct {
	seq  uint64 // its sequence in the events stream
	at   int64  // its time, Unix milliseconds
	kind uint8  // kindCode
}

// artifact is an artifact of a completed (or changed) event, compactly.
type artifact struct {
	name, bucket, contentType unique.Handle[string]
	key                       string
	size                      int64
	sha                       [32]byte
	shaOK                     bool // the event's sha256 was 64 hex digits
	sig                       *signature
}

type signature struct {
	status   unique.Handle[string]
	signer   unique.Handle[string]
	signedAt int64 // Unix milliseconds; 0 when it claims none
	reason   string
}

// entry is one lookup.
type entry struct {
	key           string
	correlationID string
	sessionID     string
	failure       *kybflow.FailedData // code and reason only
	summary       *kybflow.Summary
	artifacts     []artifact
	events        []event
	created       int64  // the time of its first event, Unix milliseconds
	firstSeq      uint64 // the stream sequence of its first event: ties created
	trace         [16]byte
	typ, country  unique.Handle[string]
	tenant        unique.Handle[string]
	state         State
}

// before orders entries by creation, then by first sequence.
func (e *entry) before(created int64, seq uint64) bool {
	return e.created < created || e.created == created && e.firstSeq < seq
}

// Index is the console's index of lookups. Its methods are safe for
// concurrent use; Run feeds it from the events stream.
type Index struct {
	mu      sync.RWMutex
	byKey   map[string]*entry
	order   []*entry // by creation, oldest first
	lastSeq uint64   // the last stream sequence applied

	subsMu sync.Mutex
	subs   map[*Subscription]struct{}

	status indexStatus
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byKey: make(map[string]*entry), subs: make(map[*Subscription]struct{})}
}

// skip notes that the message of sequence seq was read, though it could
// not be applied (an event the console cannot decode).
func (ix *Index) skip(seq uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.lastSeq = max(ix.lastSeq, seq)
}

// Len is the number of lookups indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.order)
}

// Apply adds ev, the message of sequence seq in the events stream, to the
// index; an event of a sequence already applied is ignored, and so is a
// monitor's event (it names a monitor, not a lookup). It tells the
// subscribers what changed.
func (ix *Index) Apply(seq uint64, ev kybflow.Event) {
	kind := ev.Kind()
	code := kindCode(kind)
	ix.mu.Lock()
	if seq != 0 && seq <= ix.lastSeq {
		ix.mu.Unlock()
		return
	}
	ix.lastSeq = max(ix.lastSeq, seq)
	if code == 0 || kind == kybflow.KindMonitor || !kybflow.ValidLookupKey(ev.Subject) {
		ix.mu.Unlock()
		return
	}
	e, isNew := ix.byKey[ev.Subject]
	isNew = !isNew
	if isNew {
		tenant, _, _ := kybflow.SplitLookupKey(ev.Subject)
		e = &entry{key: ev.Subject, created: ev.Time.UnixMilli(), firstSeq: seq, tenant: unique.Make(tenant), state: StateWaiting}
		ix.byKey[e.key] = e
		ix.insert(e)
	}
	e.events = append(e.events, event{seq: seq, at: ev.Time.UnixMilli(), kind: code})
	if tid, ok := traceID(ev.TraceParent); ok && e.trace == ([16]byte{}) {
		e.trace = tid
	}
	e.apply(ev)
	u := Update{Key: e.key, State: e.state, Kind: kind, At: ev.Time, New: isNew}
	ix.mu.Unlock()
	ix.publish(u)
}

// insert puts a new entry in order: at the end, unless an older lookup's
// first event comes late.
func (ix *Index) insert(e *entry) {
	n := len(ix.order)
	if n == 0 || !e.before(ix.order[n-1].created, ix.order[n-1].firstSeq) {
		ix.order = append(ix.order, e)
		return
	}
	i, _ := slices.BinarySearchFunc(ix.order, e, func(a, b *entry) int {
		if a.before(b.created, b.firstSeq) {
			return -1
		}
		return 1
	})
	ix.order = slices.Insert(ix.order, i, e)
}

// apply changes the entry as ev says. An ended lookup stays ended (a later
// delivery changes nothing but the timeline), and an erased one erased.
func (e *entry) apply(ev kybflow.Event) {
	if e.state == StateErased && ev.Kind() != kybflow.KindErased {
		return
	}
	switch d := ev.Data.(type) {
	case kybflow.AcceptedData:
		e.describe(d.Type, d.Country, d.CorrelationID, "")
	case kybflow.SessionOpenedData:
		e.describe(d.Type, d.Country, d.CorrelationID, d.SessionID)
	case kybflow.CompletedData:
		e.describe(d.Type, d.Country, d.CorrelationID, d.SessionID)
		if e.state == StateWaiting {
			e.state = StateCompleted
			e.summary = d.Summary
			e.artifacts = make([]artifact, 0, len(d.Artifacts))
			for _, a := range d.Artifacts {
				e.artifacts = append(e.artifacts, compact(a))
			}
		}
	case kybflow.FailedData:
		e.describe("", "", d.CorrelationID, d.SessionID)
		if e.state == StateWaiting {
			e.state = StateFailed
			e.failure = &kybflow.FailedData{Code: d.Code, Reason: d.Reason, Retryable: d.Retryable}
		}
	case kybflow.ChangedData:
		e.artifacts = append(e.artifacts, compact(d.Diff))
	case kybflow.ErasedData:
		// The personal data is gone: so are its documents, what named it
		// here, and the events the erasure deleted from the stream (the
		// erased one, just appended, stays), as a restarted index would
		// read it.
		e.state, e.correlationID, e.artifacts, e.summary = StateErased, "", nil, nil
		e.sessionID, e.trace = "", [16]byte{}
		e.events = e.events[len(e.events)-1:]
		if e.failure != nil {
			e.failure = &kybflow.FailedData{Code: e.failure.Code, Retryable: e.failure.Retryable}
		}
	}
}

// describe sets what the lookup's events say of it, the first time they
// say it.
func (e *entry) describe(t kybflow.LookupType, c kybflow.Country, correlationID, sessionID string) {
	if t != "" && e.typ == (unique.Handle[string]{}) {
		e.typ = unique.Make(string(t))
	}
	if c != "" && e.country == (unique.Handle[string]{}) {
		e.country = unique.Make(string(c))
	}
	if correlationID != "" && e.correlationID == "" {
		e.correlationID = correlationID
	}
	if sessionID != "" && e.sessionID == "" {
		e.sessionID = sessionID
	}
}

func compact(a kybflow.Artifact) artifact {
	c := artifact{
		name: unique.Make(a.Name), bucket: unique.Make(a.Bucket), contentType: unique.Make(a.ContentType),
		key: a.Key, size: a.Size,
	}
	if b, err := hex.DecodeString(a.SHA256); err == nil && len(b) == len(c.sha) {
		copy(c.sha[:], b)
		c.shaOK = true
	}
	if s := a.Signature; s != nil {
		c.sig = &signature{status: unique.Make(string(s.Status)), signer: unique.Make(s.Signer), reason: s.Reason}
		if s.SignedAt != nil {
			c.sig.signedAt = s.SignedAt.UnixMilli()
		}
	}
	return c
}

// traceID is the trace id of a W3C traceparent (version-traceid-spanid-
// flags), unless it is all zeros or not one.
func traceID(traceparent string) ([16]byte, bool) {
	var id [16]byte
	if len(traceparent) < 55 || traceparent[2] != '-' || traceparent[35] != '-' {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(traceparent[3:35])); err != nil || id == ([16]byte{}) {
		return [16]byte{}, false
	}
	return id, true
}

func millis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
