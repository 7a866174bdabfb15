// Package worker is the worker program as a value: it loads its
// configuration, connects to NATS, makes sure of its streams, and runs the
// pipeline's consumers (internal/handler) until told to stop, then drains.
// cmd/worker's main only calls Main; tests boot the same App.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/budget"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/handler"
	"github.com/kybflow/kybflow/internal/lookups"
	"github.com/kybflow/kybflow/internal/monitors"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/tracing"
)

// blobStore is what the worker needs of storage beyond the handlers.
type blobStore interface {
	handler.Blobs
	Ping(ctx context.Context) error
	Location() string
}

// App is a started worker.
type App struct {
	cfg      Config
	log      *slog.Logger
	nc       *nats.Conn
	conn     *streams.Conn // nc, and why it is not connected
	js       jetstream.JetStream
	topo     streams.Topology
	store    blobStore
	api      *amlapi.Client
	ops      net.Listener
	registry *prometheus.Registry
	consume  prometheus.ObserverVec
	health   map[string]*streams.Health // by role
	access   *accessRights
	tracing  *tracing.Provider

	mu        sync.Mutex         // held while ensuring the topology
	ready     atomic.Bool        // the topology is ensured: res and handlers are set
	topoState topologyState      // the topology step's last error, until it succeeds
	res       *streams.Resources // set once the topology is ensured
	handlers  *handler.Handlers

	ensureBucket func(context.Context) error // makes sure of the S3 bucket; nil for BLOB_DIR
	storage      storageState                // where ensureStorage stands
}

// Options are the parts of the environment a caller may supply instead of
// the defaults (development mode and tests).
type Options struct {
	// HTTPClient for the AML API (default: amlapi.NewHTTPClient()).
	HTTPClient *http.Client
	// Tracing makes the handlers' spans (default: tracing.Disabled; Main
	// sets it up from the OTEL_* environment). Run shuts it down at its
	// end, which flushes what Setup's provider has not exported yet.
	Tracing *tracing.Provider
}

// Start validates cfg, builds the clients and opens the ops listener, so
// that every problem of the configuration is reported before Run. It does
// not wait for NATS: the connection is made, and made again, in the
// background, and Run ensures the topology once JetStream can.
func Start(ctx context.Context, cfg Config, log *slog.Logger, opts Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Tracing == nil {
		opts.Tracing = tracing.Disabled()
	}

	apiCfg := cfg.AML.Config()
	apiCfg.HTTPClient, apiCfg.Logger = opts.HTTPClient, log.With("component", "amlapi")
	api, err := amlapi.New(apiCfg)
	if err != nil {
		return nil, fmt.Errorf("AML client: %w", err)
	}

	// Building the store asks S3 nothing: Run makes sure of the bucket
	// (storage.go), so that S3 down at start makes the worker wait.
	var store blobStore
	var ensureBucket func(context.Context) error
	if cfg.Storage.Dir != "" {
		d, err := blob.NewDir(cfg.Storage.Dir)
		if err != nil {
			return nil, fmt.Errorf("BLOB_DIR: %w", err)
		}
		store = d
	} else {
		s3, err := blob.NewS3(ctx, cfg.Storage.S3Config())
		if err != nil {
			return nil, fmt.Errorf("S3_ENDPOINT %s, S3_BUCKET %s: %w", cfg.Storage.Endpoint, cfg.Storage.Bucket, err)
		}
		store, ensureBucket = s3, s3.EnsureBucket
	}

	conn, err := streams.Connect(cfg.NATS, "kybflow-worker", log)
	if err != nil {
		return nil, err
	}
	nc := conn.Conn
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	consume := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kybflow_messages_handled_seconds", Help: "Messages handled, by consumer and acknowledgement, and how long each took.",
		Buckets: prometheus.ExponentialBuckets(0.005, 4, 10),
	}, []string{"consumer", "ack"})
	reg.MustRegister(consume)

	ops, err := opshttp.Listen("HTTP_ADDR", cfg.Ops.Addr)
	if err != nil {
		nc.Close()
		return nil, err
	}
	health := map[string]*streams.Health{}
	for _, role := range cfg.Roles {
		health[role] = &streams.Health{}
	}
	topo := cfg.topology(log) // topology.go; `worker topology` makes the same
	// How full each stream is, read on every scrape within streamFillTimeout.
	reg.MustRegister(streams.NewFillCollector(js, topo, streamFillTimeout))
	return &App{
		cfg: cfg, log: log, nc: nc, conn: conn, js: js, store: store, ensureBucket: ensureBucket, api: api, ops: ops, registry: reg, consume: consume, health: health,
		access: newAccessRights(reg), tracing: opts.Tracing, topo: topo,
	}, nil
}

// streamFillTimeout bounds the stream info reads of one /metrics scrape
// (kybflow_stream_*): JetStream without a leader delays a scrape this
// much at most, and NATS disconnected not at all.
const streamFillTimeout = 2 * time.Second

// OpsAddr is the address of /healthz, /readyz and /metrics.
func (a *App) OpsAddr() net.Addr { return a.ops.Addr() }

// Close releases what Start opened, for a caller that will not Run the app
// (Run closes them itself).
func (a *App) Close() {
	a.ops.Close()
	a.nc.Close()
}

// EnsureTopology makes sure of the streams, the bucket and the consumers
// (makes them, or with TOPOLOGY_MODE=verify checks that they exist),
// retrying while JetStream cannot do it yet (a cluster forming, a leader
// election, NATS not reachable yet, the operator's job not done yet), for
// at most STARTUP_TIMEOUT. Run calls
// it; a caller that needs the streams before Run (development mode) may
// call it first. Once it has succeeded it returns at once.
func (a *App) EnsureTopology(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ready.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StartupTimeout)
	defer cancel()
	res, err := a.makeTopology(ctx)
	if err != nil {
		return fmt.Errorf("NATS_URL %s: within STARTUP_TIMEOUT (%s): %w", envconfig.RedactURLs(a.cfg.NATS.URL), a.cfg.StartupTimeout, err)
	}
	sessions := budget.New(res.Budget, a.cfg.SessionBudget, nil)
	h, err := handler.New(handler.Config{
		API: a.api, Blobs: a.store, Lookups: lookups.NewStore(res.Lookups), Budget: sessions, Publisher: a.js,
		Monitors: monitors.NewStore(res.Monitors), Schedules: monitors.NewSchedules(a.js, res.Schedules, streams.NamesOf(a.topo.Subjects)),
		Events: res.Events, DuplicateWindow: a.cfg.Duplicates,
		Subjects: a.topo.Subjects, Keys: kybflow.ObjectKeys{Prefix: a.cfg.KeyPrefix}, Source: a.cfg.EventSource,
		WebhookURL: a.cfg.WebhookURL, Lease: a.cfg.OpenLease, MaxWait: a.cfg.MaxWait,
		Reports: handler.Reports{Trust: a.cfg.ReportTrust, FailUnlessValid: a.cfg.ReportSignaturePolicy == PolicyFail},
		Poll:    handler.Poll{Initial: a.cfg.PollInitial, Max: a.cfg.PollMax, MaxWithWebhooks: a.cfg.PollMaxWebhook},
		Logger:  a.log, Metrics: handler.NewMetrics(a.registry), Tracer: a.tracing,
	})
	if err != nil {
		return err
	}
	// The budget left, read on every scrape (kybflow_session_budget_*).
	a.registry.MustRegister(budget.NewCollector(sessions, streamFillTimeout))
	a.res, a.handlers = res, h
	a.ready.Store(true)
	return nil
}

// ensured reports, for /readyz, whether the topology is ensured.
func (a *App) ensured(context.Context) error {
	if a.ready.Load() {
		return nil
	}
	if err := a.topoState.lastErr(); err != nil {
		if denied := a.conn.Denied(); denied != nil {
			// A request the server refused goes unanswered: the attempt
			// only times out, and the refusal is what says why.
			return fmt.Errorf("streams, bucket and consumers not ensured yet: %w (the server last refused: %w)", err, denied)
		}
		return fmt.Errorf("streams, bucket and consumers not ensured yet: %w", err)
	}
	return errors.New("streams, bucket and consumers not ensured yet")
}

// prepare ensures the topology and the storage side by side, each within
// STARTUP_TIMEOUT; the first that fails for good stops the other.
func (a *App) prepare(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.EnsureTopology(gctx) })
	g.Go(func() error { return a.ensureStorage(gctx) })
	return g.Wait()
}

// Run serves the ops endpoints, ensures the topology and the storage (not
// ready until they are), then runs the consumers of the configured roles
// until ctx ends or one of them fails; then every consumer drains (no new
// work, in-flight work finishes or is released within DRAIN_TIMEOUT) before
// Run returns. Trouble with NATS or S3 only makes it wait: it returns an
// error only when the topology or the bucket cannot be ensured within
// STARTUP_TIMEOUT, S3 refuses the credentials, or a server fails.
func (a *App) Run(ctx context.Context) error {
	defer a.nc.Close()
	defer a.flushTraces(ctx)

	g, gctx := errgroup.WithContext(ctx)
	ready := map[string]opshttp.Check{
		"nats":     a.conn.Check,
		"storage":  a.storageReady,
		"topology": a.ensured,
	}
	for role, h := range a.health {
		ready["consumer "+role] = h.Check
	}
	notes := map[string]opshttp.Note{"national registry access": a.access.note}
	ops := opshttp.Handler(a.registry, ready, notes)
	if a.cfg.Ops.Pprof {
		ops = opshttp.WithProfiling(ops)
	}
	srv := opshttp.NewServer(ops, a.log)
	g.Go(func() error { return opshttp.Serve(gctx, srv, a.ops, 5*time.Second, a.log) })
	g.Go(func() error { return a.watchAccessRights(gctx) })

	g.Go(func() error {
		if err := a.prepare(gctx); err != nil {
			if gctx.Err() != nil {
				return nil //nolint:nilerr // stopped while waiting for NATS or S3: not a failure
			}
			return err
		}
		return a.runConsumers(gctx)
	})

	a.log.Info("worker running", "roles", a.cfg.Roles, "store", a.store.Location(), "webhooks", a.cfg.WebhookURL != "",
		"ops_addr", a.ops.Addr().String(), "nats", a.cfg.NATS)
	err := g.Wait()
	a.log.Info("worker stopped", "err", err)
	return err
}

// flushTraces exports the spans not exported yet, at the end of Run.
func (a *App) flushTraces(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracing.ShutdownTimeout)
	defer cancel()
	if err := a.tracing.Shutdown(ctx); err != nil {
		a.log.Warn("tracing: flush at shutdown", "err", err)
	}
}

// retryBackoff is the redelivery delay of work that could not proceed for
// our side's trouble (NATS, storage): from half a second, doubling with the
// message's deliveries, capped at 10 s. The cap is low because a check's
// deliveries also count its normal polls: a passing NATS error after many
// polls must not wait a minute.
var retryBackoff = streams.Backoff{Initial: 500 * time.Millisecond, Max: 10 * time.Second}

// runConsumers runs one consume loop per role until ctx ends.
func (a *App) runConsumers(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	consume := func(role, name string, cons jetstream.Consumer, h streams.Handler) {
		if !a.cfg.hasRole(role) {
			return
		}
		g.Go(func() error {
			return streams.Consume(gctx, cons, h, streams.ConsumeConfig{
				Name: role, Concurrency: a.cfg.Concurrency, HandlerTimeout: a.cfg.HandlerTimeout,
				Backoff: retryBackoff, DrainTimeout: a.cfg.DrainTimeout,
				Logger: a.log, Health: a.health[role],
				Recreate: a.recreate(name),
				Observe: func(act streams.Action, d time.Duration) {
					a.consume.WithLabelValues(role, act.String()).Observe(d.Seconds())
				},
			})
		})
	}
	consume(RoleCommands, streams.ConsumerCommands, a.res.Commands, a.handlers.Command)
	consume(RoleChecks, streams.ConsumerChecks, a.res.Checks, a.handlers.Check)
	consume(RoleWebhooks, streams.ConsumerWebhooks, a.res.Webhooks, a.handlers.Webhook)
	consume(RoleMonitors, streams.ConsumerMonitors, a.res.Fires, a.handlers.Fire)
	return g.Wait()
}

// Main is the whole worker program as cmd/worker runs it.
func Main(ctx context.Context, args []string, lookup envconfig.Lookup, stdout, stderr io.Writer) error {
	var cfg Config
	set := envconfig.New("worker", lookup, stderr)
	cfg.Settings(set)
	set.SetUsage(usage)
	if err := set.Parse(args); err != nil {
		return err
	}
	log, err := cfg.Log.New(stdout)
	if err != nil {
		return err
	}
	tp, err := tracing.Setup(ctx, lookup, "kybflow-worker", log)
	if err != nil {
		return err
	}
	app, err := Start(ctx, cfg, log, Options{Tracing: tp})
	if err != nil {
		_ = tp.Shutdown(ctx)
		return err
	}
	return app.Run(ctx)
}

const usage = `Usage: worker [flags]

Consumes lookup commands from JetStream (stream AML_COMMANDS), opens BankID AML
sessions, stores the JSON result and PDF reports in S3 (or BLOB_DIR), and
publishes CloudEvents to AML_EVENTS. Run any number of replicas.

Every flag can also be set by the environment variable named with it.
For a first run with nothing installed, see: go run ./cmd/kybflow-dev --help
To make the streams as the operator (TOPOLOGY_MODE=verify): worker topology --help

`
