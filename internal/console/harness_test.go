package console

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/internal/reportsig"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/internal/worker"
	"github.com/kybflow/kybflow/natsconn"
)

// pipeline is a running system for the console to show: a real NATS
// server, the AML sandbox and a worker storing in a directory, all in this
// process (as in internal/cli/harness_test.go), and a client of it.
type pipeline struct {
	natsURL string
	blobDir string
	client  *client.Client
	sandbox *sandbox.Server
}

func startPipeline(t *testing.T) *pipeline {
	t.Helper()
	return startPipelineWith(t, sandbox.Config{ReadyAfter: 150 * time.Millisecond, ReportInterval: 50 * time.Millisecond})
}

// startPipelineWith is startPipeline with the sandbox's configuration sbcfg.
func startPipelineWith(t *testing.T, sbcfg sandbox.Config) *pipeline {
	t.Helper()
	p := &pipeline{natsURL: testenv.NATS(t), blobDir: t.TempDir()}
	sb, err := sandbox.Start(sbcfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.sandbox = sb
	t.Cleanup(func() { sb.Close() })

	cfg := worker.Defaults()
	cfg.NATS.URL, cfg.AML.APIURL, cfg.AML.IssuerURL = p.natsURL, sb.URL(), sb.IssuerURL()
	cfg.AML.ClientID, cfg.AML.ClientSecret = "sandbox", "sandbox-secret"
	cfg.AML.RateLimit, cfg.AML.RetryBudget, cfg.Ops.Addr, cfg.Concurrency = 200, 10*time.Second, "127.0.0.1:0", 4
	cfg.PollInitial, cfg.PollMax, cfg.PollMaxWebhook = 100*time.Millisecond, 400*time.Millisecond, 2*time.Second
	cfg.MaxWait, cfg.DrainTimeout, cfg.EventsMaxAge, cfg.Duplicates, cfg.LookupsMaxAge = time.Hour, 5*time.Second, time.Hour, time.Hour, 24*time.Hour
	cfg.EventSource, cfg.Log.Format, cfg.Log.Level = "urn:test", "text", "warn"
	cfg.ReportTrust = reportsig.NewTrust(sb.Sandbox().ReportCA())
	cfg.Storage.Dir = p.blobDir

	ctx, cancel := context.WithCancel(context.Background())
	app, err := worker.Start(ctx, cfg, testLogger(t), worker.Options{})
	if err != nil {
		cancel()
		t.Fatalf("start worker: %v", err)
	}
	if err := app.EnsureTopology(ctx); err != nil {
		cancel()
		t.Fatalf("worker topology: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker run: %v", err)
		}
	})

	nc, err := nats.Connect(p.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if p.client, err = client.New(nc); err != nil {
		t.Fatal(err)
	}
	return p
}

// console starts a console on the pipeline with opts, until the test
// ends, and returns it; each of configure changes its Config first.
func (p *pipeline) console(t *testing.T, opts Options, configure ...func(*Config)) *App {
	t.Helper()
	cfg := Config{NATS: natsconn.Settings{URL: p.natsURL}, Listen: "127.0.0.1:0", Log: logging.DefaultSettings(),
		Auth: auth.DefaultSettings(), Audit: audit.DefaultSettings()}
	cfg.Storage.Dir = p.blobDir
	for _, c := range configure {
		c(&cfg)
	}
	app, err := Start(t.Context(), cfg, testLogger(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("console run: %v", err)
		}
	})
	return app
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// roleAuth authenticates each request as the user of the role its
// X-Test-Role header names (viewer without one): it stands in for the
// OIDC login, which package internal/console/auth tests.
type roleAuth struct{}

func (roleAuth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := Role(r.Header.Get("X-Test-Role"))
		if role == "" {
			role = RoleViewer
		}
		next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), User{Subject: "test-" + string(role), Name: "Test " + string(role), Role: role})))
	})
}

func (roleAuth) Routes(*http.ServeMux) {}

// memoryAuditor keeps the entries; it stands in for the audit stream,
// which package internal/audit tests. fail, when set, refuses them.
type memoryAuditor struct {
	mu      sync.Mutex
	entries []Entry
	fail    error
}

func (a *memoryAuditor) Record(_ context.Context, e Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.entries = append(a.entries, e)
	return nil
}

func (a *memoryAuditor) Entries() []Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Entry(nil), a.entries...)
}

func (a *memoryAuditor) setFail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}
