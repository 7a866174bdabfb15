package console

// Reading the index: one lookup (Lookup), and pages of lookups, newest
// first, filtered and searched (Query). Each is a copy taken under the read
// lock: a page renders without holding it.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unique"

	"github.com/kybflow/kybflow"
)

// PageSize is the number of lookups on a page.
const PageSize = 50

// Row is a lookup as the list shows it.
type Row struct {
	Key, Tenant, LookupID string
	Type, Country         string
	CorrelationID         string
	State                 State
	Created, Updated      time.Time
	LastKind              kybflow.Kind
}

// Lookup is a lookup as its page shows it.
type Lookup struct {
	Row
	SessionID string
	TraceID   string // hex; "" when no event carried a traceparent
	Events    []Event
	Summary   *kybflow.Summary
	Failure   *kybflow.FailedData // Code, Reason and Retryable only
	Artifacts []kybflow.Artifact
}

// Event is one event of a lookup's timeline.
type Event struct {
	Kind kybflow.Kind
	ID   string // the CloudEvents id (kybflow.EventID)
	Seq  uint64
	At   time.Time
}

// Artifact returns the lookup's artifact called name.
func (l Lookup) Artifact(name string) (kybflow.Artifact, bool) {
	for _, a := range l.Artifacts {
		if a.Name == name {
			return a, true
		}
	}
	return kybflow.Artifact{}, false
}

func str(h unique.Handle[string]) string {
	if h == (unique.Handle[string]{}) {
		return ""
	}
	return h.Value()
}

func (e *entry) row() Row {
	_, id, _ := kybflow.SplitLookupKey(e.key)
	r := Row{
		Key: e.key, Tenant: str(e.tenant), LookupID: id, Type: str(e.typ), Country: str(e.country),
		CorrelationID: e.correlationID, State: e.state, Created: millis(e.created),
	}
	if n := len(e.events); n > 0 {
		r.Updated, r.LastKind = millis(e.events[n-1].at), kindOf(e.events[n-1].kind)
	}
	return r
}

// Lookup returns the lookup of key, and whether the index has it.
func (ix *Index) Lookup(key string) (Lookup, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e, ok := ix.byKey[key]
	if !ok {
		return Lookup{}, false
	}
	l := Lookup{Row: e.row(), SessionID: e.sessionID, Summary: e.summary.Clone(), Events: make([]Event, len(e.events))}
	if e.trace != ([16]byte{}) {
		l.TraceID = hex.EncodeToString(e.trace[:])
	}
	if e.failure != nil {
		f := *e.failure
		l.Failure = &f
	}
	for i, ev := range e.events {
		k := kindOf(ev.kind)
		l.Events[i] = Event{Kind: k, ID: kybflow.EventID(e.key, k), Seq: ev.seq, At: millis(ev.at)}
	}
	for _, a := range e.artifacts {
		l.Artifacts = append(l.Artifacts, a.artifact())
	}
	return l, true
}

func (a artifact) artifact() kybflow.Artifact {
	out := kybflow.Artifact{
		Name: str(a.name), Bucket: str(a.bucket), Key: a.key, Size: a.size, ContentType: str(a.contentType),
	}
	if a.shaOK {
		out.SHA256 = hex.EncodeToString(a.sha[:])
	}
	if s := a.sig; s != nil {
		out.Signature = &kybflow.ReportSignature{Status: kybflow.SignatureStatus(str(s.status)), Signer: str(s.signer), Reason: s.reason}
		if s.signedAt != 0 {
			t := millis(s.signedAt)
			out.Signature.SignedAt = &t
		}
	}
	return out
}

// Query selects lookups. Zero fields select all.
type Query struct {
	State   State
	Type    string
	Country string
	// Since keeps the lookups created at or after it.
	Since time.Time
	// Search keeps the lookups whose lookupId, key or correlationId is
	// Search or starts with it.
	Search string
	// After continues a listing after the lookup its cursor names (a
	// Page's Next).
	After string
	// Limit is the most rows returned (default PageSize).
	Limit int
}

// Page is a page of lookups, newest first.
type Page struct {
	Rows []Row
	// Total is the number of lookups the query selects, on every page.
	Total int
	// Next is the cursor of the next page (Query.After); "" on the last.
	Next string
}

// ErrBadCursor is returned by Query for an After that is not a cursor.
var ErrBadCursor = errors.New("not a page cursor")

// cursor names a position in the order: the creation time and first
// sequence of the last row shown.
func cursor(e *entry) string {
	return strconv.FormatInt(e.created, 10) + "-" + strconv.FormatUint(e.firstSeq, 10)
}

func parseCursor(s string) (created int64, seq uint64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		created, err = strconv.ParseInt(a, 10, 64)
		if err == nil {
			seq, err = strconv.ParseUint(b, 10, 64)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	return created, seq, nil
}

// matches reports whether q selects e.
func (q *Query) matches(e *entry, typ, country unique.Handle[string], since int64) bool {
	switch {
	case q.State != 0 && e.state != q.State,
		q.Type != "" && e.typ != typ,
		q.Country != "" && e.country != country,
		since != 0 && e.created < since:
		return false
	case q.Search == "":
		return true
	}
	_, id, _ := kybflow.SplitLookupKey(e.key)
	return strings.HasPrefix(id, q.Search) || strings.HasPrefix(e.key, q.Search) ||
		e.correlationID != "" && strings.HasPrefix(e.correlationID, q.Search)
}

// Query returns the page of lookups q selects, newest first. It reads
// every lookup once (to count them): a few milliseconds for 100,000.
func (ix *Index) Query(q Query) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = PageSize
	}
	var typ, country unique.Handle[string]
	if q.Type != "" {
		typ = unique.Make(q.Type)
	}
	if q.Country != "" {
		country = unique.Make(q.Country)
	}
	var since int64
	if !q.Since.IsZero() {
		since = q.Since.UnixMilli()
	}
	var afterCreated int64
	var afterSeq uint64
	if q.After != "" {
		var err error
		if afterCreated, afterSeq, err = parseCursor(q.After); err != nil {
			return Page{}, err
		}
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var p Page
	var last *entry
	for i := len(ix.order) - 1; i >= 0; i-- {
		e := ix.order[i]
		if !q.matches(e, typ, country, since) {
			continue
		}
		p.Total++
		if q.After != "" && !e.before(afterCreated, afterSeq) {
			continue
		}
		if len(p.Rows) < limit {
			p.Rows = append(p.Rows, e.row())
			last = e
		} else if p.Next == "" {
			p.Next = cursor(last)
		}
	}
	return p, nil
}
