// The test harness's environment: NATS, sandbox, storage, workers, bridges, event watching and logs.

package worker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/opshttp"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/internal/tracing"
	"github.com/kybflow/kybflow/natsconn"
)

const testWebhookSecret = "cGlwZWxpbmUtdGVzdC1zZWNyZXQ=" // "pipeline-test-secret", base64 as Standard Webhooks secrets are

// env is one pipeline under test: a real NATS server, the sandbox, the
// webhook bridge and any number of workers, all in this process.
type env struct {
	t       testing.TB
	natsURL string
	sb      *sandbox.Server
	bridge  *bridge.App
	js      jetstream.JetStream
	blobDir string
	s3      *testenv.MinIOServer
	bucket  string
	cluster *testenv.Cluster
	logs    *testenv.Buffer   // when set, the workers' logs, every level
	tracing *tracing.Provider // the workers' and bridges' (nil: none)
	adjust  func(*Config)     // envOptions.configure

	mu      sync.Mutex
	events  map[string][]kybflow.Event // by lookupId, in stream order
	markers int                        // marker lookups run so far
}

type envOptions struct {
	// cluster, when set, is the NATS cluster to run on (streams with 3
	// replicas) instead of a single embedded server.
	cluster *testenv.Cluster
	// natsURL, when set, is a NATS server the test runs itself.
	natsURL string
	sandbox sandbox.Config
	s3      bool // store in a real MinIO instead of a directory
	// tracing, when set, is the workers' and bridges' tracer provider.
	tracing *tracing.Provider
	// configure, when set, changes every worker configuration config
	// makes, the first one (which makes the streams) included.
	configure func(*Config)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, events: map[string][]kybflow.Event{}, cluster: o.cluster, tracing: o.tracing, adjust: o.configure}
	switch {
	case o.cluster != nil:
		e.natsURL = o.cluster.URLs()
	case o.natsURL != "":
		e.natsURL = o.natsURL
	default:
		e.natsURL = testenv.NATS(t)
	}
	sc := o.sandbox
	sc.WebhookSecret = testWebhookSecret
	if sc.ReadyAfter == 0 {
		sc.ReadyAfter = 150 * time.Millisecond
	}
	if sc.ReportInterval == 0 {
		sc.ReportInterval = 50 * time.Millisecond
	}
	if sc.WebhookRetry.Initial == 0 {
		sc.WebhookRetry = sandbox.RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Attempts: 8}
	}
	sb, err := sandbox.Start(sc, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	e.sb = sb

	if o.s3 {
		srv := testenv.MinIO(t)
		e.s3 = &srv
		e.bucket = "results"
	} else {
		e.blobDir = t.TempDir()
	}

	nc, err := nats.Connect(e.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if e.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}

	// The first worker makes the streams; the bridge needs them.
	return e
}

// config is a worker configuration for this env, as a user would set it.
func (e *env) config(webhooks bool) Config {
	c := Defaults()
	c.NATS.URL, c.AML.APIURL, c.AML.IssuerURL = e.natsURL, e.sb.URL(), e.sb.IssuerURL()
	c.AML.ClientID, c.AML.ClientSecret = "sandbox", "sandbox-secret"
	c.AML.RateLimit, c.AML.RetryBudget, c.Ops.Addr, c.Concurrency = 200, 10*time.Second, "127.0.0.1:0", 4
	c.PollInitial, c.PollMax, c.PollMaxWebhook = 100*time.Millisecond, 400*time.Millisecond, 2*time.Second
	c.MaxWait, c.DrainTimeout, c.EventsMaxAge, c.Duplicates, c.LookupsMaxAge = time.Hour, 5*time.Second, time.Hour, time.Hour, 24*time.Hour
	c.EventSource, c.Log.Format, c.Log.Level = "urn:test", "text", "warn"
	if e.cluster != nil {
		c.StreamReplicas = 3
	}
	if e.s3 != nil {
		c.Storage.Endpoint, c.Storage.Bucket, c.Storage.AccessKey, c.Storage.SecretKey, c.Storage.Secure = e.s3.Endpoint, e.bucket, e.s3.AccessKey, e.s3.SecretKey, false
	} else {
		c.Storage.Dir = e.blobDir
	}
	if webhooks && e.bridge != nil {
		c.WebhookURL = "http://" + e.bridge.Addr().String() + "/webhooks"
	}
	if e.adjust != nil {
		e.adjust(&c)
	}
	return c
}

// startWorker boots a worker with cfg and stops it when the test ends. It
// returns a function that stops it earlier (SIGTERM) and waits.
func (e *env) startWorker(cfg Config) (stop func() error) {
	e.t.Helper()
	_, stop = e.startWorkerApp(cfg)
	return stop
}

// startWorkerApp is startWorker that also returns the app. A worker whose
// Run returns before it is stopped fails the test: nothing that happens to
// NATS may end a worker.
func (e *env) startWorkerApp(cfg Config) (app *App, stop func() error) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(e.t)
	if e.logs != nil { // every line, at debug, also into e.logs
		log = slog.New(slog.NewJSONHandler(io.MultiWriter(tWriter{e.t}, e.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	app, err := Start(ctx, cfg, log, Options{Tracing: e.tracing})
	if err != nil {
		cancel()
		e.t.Fatalf("start worker: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		err := app.Run(ctx)
		if ctx.Err() == nil {
			e.t.Errorf("worker Run returned before it was stopped: %v", err)
		}
		done <- err
	}()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	e.t.Cleanup(func() {
		if err := stop(); err != nil {
			e.t.Errorf("worker run: %v", err)
		}
	})
	return app, stop
}

// ready is nil once app's /readyz answers 200, and else what it says.
func ready(app *App) error {
	resp, err := http.Get("http://" + app.OpsAddr().String() + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz %d: %s", resp.StatusCode, body)
	}
	return nil
}

// startBridge boots a webhook bridge (after a worker made the streams); the
// first one is the one config(true) points workers at.
func (e *env) startBridge() *bridge.App {
	e.t.Helper()
	app, err := bridge.Start(bridge.Config{
		NATS: natsconn.Settings{URL: e.natsURL}, ListenAddr: "127.0.0.1:0", Ops: opshttp.Settings{Addr: "127.0.0.1:0"}, WebhookSecret: testWebhookSecret,
		SubjectPrefix: "aml", MaxBody: bridge.DefaultMaxBody,
	}, testLogger(e.t), bridge.Options{Tracing: e.tracing})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("bridge run: %v", err)
		}
	})
	if e.bridge == nil {
		e.bridge = app
	}
	return app
}

// start makes the streams (as any worker does at start), then boots a
// bridge (when webhooks) and n workers, and starts watching events.
func (e *env) start(webhooks bool, n int) {
	e.t.Helper()
	app, err := Start(context.Background(), e.config(false), testLogger(e.t), Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := app.EnsureTopology(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	app.Close()
	if webhooks {
		e.startBridge()
	}
	for range n {
		e.startWorker(e.config(webhooks))
	}
	e.watchEvents()
}

// watchEvents collects every event of AML_EVENTS, as a downstream service
// would, with an ordered consumer.
func (e *env) watchEvents() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	cons, err := e.js.OrderedConsumer(ctx, "AML_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"aml.events.>"}})
	if err != nil {
		e.t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := kybflow.DecodeEvent(m.Data())
		if err != nil {
			e.t.Errorf("undecodable event on %s: %v", m.Subject(), err)
			return
		}
		e.mu.Lock()
		e.events[ev.Subject] = append(e.events[ev.Subject], ev)
		e.mu.Unlock()
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cc.Stop)
}

// testLogger logs to the test at warn level; set KYBFLOW_TEST_LOG=debug
// for everything.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("KYBFLOW_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
