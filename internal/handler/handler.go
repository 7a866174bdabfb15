// Package handler is the lookup pipeline's logic: a command opens a session;
// a check (poll) or a webhook moves a session's results into storage; the
// end of a lookup is one completed or failed event.
//
// Handlers are plain functions over a JetStream message; what they return is
// turned into the acknowledgement by streams.Decide. Every step reads the
// lookup's state record first and writes it by compare-and-set, so any
// replica can take any message, and a redelivered or duplicate message
// changes nothing that was already done (docs/design.md).
package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/monitors"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// API is what the handlers need of the AML API client (*amlapi.Client).
type API interface {
	CreateOrganizationSession(ctx context.Context, country amlapi.Country, req amlapi.CreateSessionRequest, opts amlapi.CreateOptions) (string, error)
	CreateBeneficialSession(ctx context.Context, req amlapi.CreateSessionRequest, opts amlapi.CreateOptions) (string, error)
	Session(ctx context.Context, kind amlapi.Kind, sessionID string) (*amlapi.Session, error)
	Download(ctx context.Context, link string) (*amlapi.Download, error)
}

// Blobs is what the handlers need of storage (*blob.S3, *blob.Dir).
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error)
	Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error)
	Delete(ctx context.Context, key string) error
}

// Publisher is what the handlers need of JetStream.
type Publisher = streams.Publisher

// EventLog is what the handlers read of the events stream
// (jetstream.Stream): whether a lookup's terminal event is out (finish).
type EventLog interface {
	GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error)
}

// Poll is the polling policy: the n-th check of a session waits
// min(Initial·2^(n-1), Max) before the next. With webhooks configured the
// cap is MaxWithWebhooks: polls are then only the fallback.
type Poll struct {
	Initial         time.Duration
	Max             time.Duration
	MaxWithWebhooks time.Duration
}

// Config wires the handlers.
type Config struct {
	API     API
	Blobs   Blobs
	Lookups *lookups.Store
	// Monitors and Schedules are the monitors' records and schedules
	// (monitor.go; nil: monitor commands are refused, fires dropped).
	Monitors  *monitors.Store
	Schedules *monitors.Schedules
	// Budget is the session budget every replica counts against
	// (SESSION_BUDGET); nil: unlimited.
	Budget    *budget.Budget
	Publisher Publisher
	// Events is the events stream, read when a later delivery finds a
	// lookup ended (required).
	Events EventLog
	// DuplicateWindow is the streams' duplicate window (DUPLICATE_WINDOW):
	// within it a re-published event is dropped (finish).
	DuplicateWindow time.Duration
	Subjects        kybflow.Subjects
	Keys            kybflow.ObjectKeys
	// Source is the CloudEvents source of our events (required).
	Source string
	// WebhookURL is the bridge's public base URL (ending in /webhooks); the
	// URL of a lookup is WebhookURL/<lookupId>. Empty: no webhooks, poll.
	WebhookURL string
	// Lease is the opening lease (required; OPEN_LEASE): renewed every third of it
	// while its holder lives, it lets another replica take over within
	// about one lease of the holder's death (lease.go).
	Lease time.Duration
	Poll  Poll
	// MaxWait bounds how long a lookup may wait (required; results
	// themselves live 2h after they are ready): a session not opened
	// within MaxWait of the command because the API stayed unavailable
	// fails with code unavailable; results not all ready within MaxWait of
	// the session's opening fail with code expired, or unavailable when
	// the status calls themselves kept failing.
	MaxWait time.Duration
	// Reports is how reports' signatures are checked (signature.go).
	Reports Reports
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
	// Tracer makes the spans of every handled message (trace.go; default:
	// a no-op provider).
	Tracer trace.TracerProvider
}

// Handlers are the pipeline's message handlers.
type Handlers struct {
	c      Config
	log    *slog.Logger
	tracer trace.Tracer
}

// New validates cfg and returns the handlers.
func New(cfg Config) (*Handlers, error) {
	if cfg.API == nil || cfg.Blobs == nil || cfg.Lookups == nil || cfg.Publisher == nil || cfg.Events == nil {
		return nil, errors.New("handler: API, Blobs, Lookups, Publisher and Events are required")
	}
	if cfg.DuplicateWindow <= 0 {
		return nil, errors.New("handler: DuplicateWindow is required")
	}
	if err := cfg.Keys.Validate(); err != nil {
		return nil, fmt.Errorf("handler: %w", err)
	}
	// The settings come from the worker's validated configuration, which
	// holds their defaults: here they are required, not defaulted again.
	if cfg.Source == "" || cfg.Lease <= 0 || cfg.MaxWait <= 0 ||
		cfg.Poll.Initial <= 0 || cfg.Poll.Max <= 0 || cfg.Poll.MaxWithWebhooks <= 0 {
		return nil, errors.New("handler: Source, Lease, MaxWait and every Poll interval are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider()
	}
	if cfg.Budget == nil {
		cfg.Budget = budget.New(nil, nil, nil)
	}
	cfg.WebhookURL = strings.TrimRight(cfg.WebhookURL, "/")
	return &Handlers{c: cfg, log: cfg.Logger, tracer: cfg.Tracer.Tracer(TracerName)}, nil
}

// readError is the outcome of a failed read or write of a record. A
// record that cannot be decoded, or was written by a newer version, is
// retried late, not dropped: during a rolling upgrade a newer worker will
// take it, and dropping its message would strand the lookup. It is logged
// as an error, for an operator.
func (h *Handlers) readError(err error) outcome {
	if errors.Is(err, lookups.ErrCorrupt) || errors.Is(err, lookups.ErrNewer) {
		h.log.Error("lookup record cannot be decoded; retried later", "err", err)
		return retryAfter(err, streams.PanicDelay)
	}
	return retryBackoff(err)
}

// The outcome a stage returns is a value that decides its message's
// acknowledgement (streams.Decide maps it, in the consume loop); these are
// the only outcomes a stage reports:
//
//	done()                 done, or nothing to do       → Ack
//	retryAfter(err, d)     wait a named delay            → NakWithDelay(d)
//	retryBackoff(err)      NATS, storage or our trouble → NakWithDelay(backoff by deliveries)
//	drop(err)              its failed event or dead letter is out → Term
type outcome = streams.Outcome

func done() outcome                                 { return streams.Ack() }
func retryAfter(err error, d time.Duration) outcome { return streams.Retry(err, d) }
func retryBackoff(err error) outcome                { return streams.Retry(err, 0) }
func drop(err error) outcome                        { return streams.Term(err) }

// The named delays of retryAfter (poll intervals, leases and Retry-After
// come from the configuration and the API).
const (
	// laggingReadRetry: a key-value read behind the leader (a follower on
	// a cluster), or a webhook that came before its session was recorded.
	laggingReadRetry = time.Second
	// twinRetry: a twin command created the record first; decide on it.
	twinRetry = time.Second
	// conflictRetry: another replica moved the record; decide again soon.
	conflictRetry = 100 * time.Millisecond
	// unreadableRetry: a session answer we cannot read, a session not
	// found soon after its creation, or an error of our side of the
	// connection, is asked about again after this.
	unreadableRetry = time.Minute
)

// errNotReady is the Retry of a check whose session is not done yet.
var errNotReady = errors.New("session results not all stored yet")

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
