package sandbox

import (
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// InspectPath and ResetPath are the sandbox-only endpoints (no auth) that
// let tests see what happened and clear it.
const (
	InspectPath = "/_sandbox/inspect"
	ResetPath   = "/_sandbox/reset"
)

// maxRecords bounds each list of an Inspection; beyond it the oldest half
// is dropped (and counted in Inspection.Discarded).
const maxRecords = 100_000

// Inspection is what the sandbox has seen since it started or was reset.
type Inspection struct {
	Sessions              []InspectedSession `json:"sessions"`
	SessionsPerIdentifier map[string]int     `json:"sessionsPerIdentifier"` // "organization/NO/923609016": 2
	Downloads             []Download         `json:"downloads"`
	Webhooks              []WebhookDelivery  `json:"webhooks"`
	WebhooksPending       int                `json:"webhooksPending"`
	Requests              map[string]int     `json:"requests"` // by route pattern, e.g. "GET /organization/session/{id}"
	Discarded             int                `json:"discarded"`
}

// InspectedSession is a created session.
type InspectedSession struct {
	ID         string              `json:"id"`
	Kind       amlapi.Kind         `json:"kind"`
	Country    amlapi.Country      `json:"country"`
	Identifier string              `json:"identifier"`
	Created    time.Time           `json:"created"`
	Expands    []string            `json:"expands,omitempty"`
	Reports    []amlapi.ReportType `json:"reports,omitempty"`
	WebhookURL string              `json:"webhookUrl,omitempty"`
	Failing    bool                `json:"failing"`
	Behaviour  Behaviour           `json:"behaviour,omitempty"`
	// Sequence is, for a changing identifier, the session's number among
	// the sessions of its kind, country and identifier (1, 2, …).
	Sequence int `json:"sequence,omitempty"`
}

// Download is one request for a result (JSON or report), whatever its
// answer.
type Download struct {
	SessionID string    `json:"sessionId"`
	Entity    string    `json:"entity"` // "json" or "report/<type>"
	Status    int       `json:"status"`
	Bytes     int64     `json:"bytes"`
	Time      time.Time `json:"time"`
}

// WebhookDelivery is one attempt to deliver a webhook (or its drop).
type WebhookDelivery struct {
	SessionID string              `json:"sessionId"`
	Event     amlapi.WebhookEvent `json:"event"`
	Report    amlapi.ReportType   `json:"report,omitempty"`
	MessageID string              `json:"messageId"`
	Attempt   int                 `json:"attempt"`
	Status    int                 `json:"status,omitempty"` // HTTP status; 0 when not sent or no answer
	Error     string              `json:"error,omitempty"`
	Dropped   bool                `json:"dropped,omitempty"`
	Duplicate bool                `json:"duplicate,omitempty"`
	Time      time.Time           `json:"time"`
}

// OK reports whether the attempt was answered 2xx.
func (d WebhookDelivery) OK() bool { return d.Error == "" && d.Status >= 200 && d.Status < 300 }

type inspector struct {
	mu        sync.Mutex
	sessions  []InspectedSession
	perID     map[string]int
	downloads []Download
	webhooks  []WebhookDelivery
	requests  map[string]int
	discarded int
}

func (in *inspector) init() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sessions, in.downloads, in.webhooks, in.discarded = nil, nil, nil, 0
	in.perID = make(map[string]int)
	in.requests = make(map[string]int)
}

// bounded appends v to list, dropping the oldest half when full.
func bounded[T any](in *inspector, list []T, v T) []T {
	if len(list) >= maxRecords {
		in.discarded += len(list) / 2
		list = slices.Delete(list, 0, len(list)/2)
	}
	return append(list, v)
}

func (in *inspector) session(s *session) {
	rec := InspectedSession{
		ID: s.id, Kind: s.kind, Country: s.country, Identifier: s.identifier, Created: s.tl.created.UTC(),
		Expands: s.expands, Reports: s.reports, Failing: s.failing, Behaviour: s.behaviour,
		Sequence: s.sequence,
	}
	if s.webhook != nil {
		rec.WebhookURL = s.webhook.URL
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sessions = bounded(in, in.sessions, rec)
	in.perID[s.key()]++
}

func (in *inspector) download(id, entity string, status int, n int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.downloads = bounded(in, in.downloads, Download{id, entity, status, n, time.Now().UTC()})
}

func (in *inspector) webhook(d WebhookDelivery) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.webhooks = bounded(in, in.webhooks, d)
}

func (in *inspector) request(pattern string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.requests[pattern]++
}

// Inspect returns a copy of what the sandbox has seen.
func (s *Sandbox) Inspect() Inspection {
	in := &s.insp
	in.mu.Lock()
	out := Inspection{
		Sessions:              slices.Clone(in.sessions),
		SessionsPerIdentifier: maps.Clone(in.perID),
		Downloads:             slices.Clone(in.downloads),
		Webhooks:              slices.Clone(in.webhooks),
		Requests:              maps.Clone(in.requests),
		Discarded:             in.discarded,
	}
	in.mu.Unlock()
	out.WebhooksPending = s.wh.pending()
	return out
}

// Reset clears the inspection data. Sessions, tokens and queued webhooks
// are kept.
func (s *Sandbox) Reset() { s.insp.init() }

func (s *Sandbox) handleInspect(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, s.Inspect())
}

func (s *Sandbox) handleReset(w http.ResponseWriter, r *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}
