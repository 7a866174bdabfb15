package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
	"github.com/kybflow/kybflow/internal/worker"
)

// pipeline is a running system for amlctl to poke at: a real NATS server,
// the AML sandbox and a worker, all in this process (as in
// internal/worker/harness_test.go).
type pipeline struct {
	natsURL string
	blobDir string               // the worker's BLOB_DIR, or "" with S3
	env     map[string]string    // what a user of this system would export
	s3      *testenv.MinIOServer // nil with BLOB_DIR
}

// startPipeline boots NATS, the sandbox and one worker, storing in a
// directory, or in a real MinIO when s3 is set; everything stops when the
// test ends.
func startPipeline(t *testing.T, s3 bool) *pipeline {
	t.Helper()
	p := &pipeline{natsURL: testenv.NATS(t)}
	sb, err := sandbox.Start(sandbox.Config{ReadyAfter: 150 * time.Millisecond, ReportInterval: 50 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })

	cfg := worker.Defaults()
	cfg.NATS.URL, cfg.AML.APIURL, cfg.AML.IssuerURL = p.natsURL, sb.URL(), sb.IssuerURL()
	cfg.AML.ClientID, cfg.AML.ClientSecret = "sandbox", "sandbox-secret"
	cfg.AML.RateLimit, cfg.AML.RetryBudget, cfg.Ops.Addr, cfg.Concurrency = 200, 10*time.Second, "127.0.0.1:0", 4
	cfg.PollInitial, cfg.PollMax, cfg.PollMaxWebhook = 100*time.Millisecond, 400*time.Millisecond, 2*time.Second
	cfg.MaxWait, cfg.DrainTimeout, cfg.EventsMaxAge, cfg.Duplicates, cfg.LookupsMaxAge = time.Hour, 5*time.Second, time.Hour, time.Hour, 24*time.Hour
	cfg.EventSource, cfg.Log.Format, cfg.Log.Level = "urn:test", "text", "warn"
	// The worker trusts the sandbox's report CA, as an operator BankID's;
	// so does a user who exports REPORT_TRUST_CA for amlctl get.
	caFile := filepath.Join(t.TempDir(), "report-ca.pem")
	if err := os.WriteFile(caFile, sb.Sandbox().ReportCAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Reports.TrustCA = []string{caFile}
	p.env = map[string]string{"NATS_URL": p.natsURL, "REPORT_TRUST_CA": caFile}
	if s3 {
		srv := testenv.MinIO(t)
		p.s3 = &srv
		cfg.Storage.Endpoint, cfg.Storage.Bucket, cfg.Storage.AccessKey, cfg.Storage.SecretKey, cfg.Storage.Secure = srv.Endpoint, "results", srv.AccessKey, srv.SecretKey, false
		p.env["S3_ENDPOINT"], p.env["S3_ACCESS_KEY"], p.env["S3_SECRET_KEY"], p.env["S3_SECURE"] = srv.Endpoint, srv.AccessKey, srv.SecretKey, "false"
	} else {
		p.blobDir = t.TempDir()
		cfg.Storage.Dir = p.blobDir
		p.env["BLOB_DIR"] = p.blobDir
	}

	ctx, cancel := context.WithCancel(context.Background())
	app, err := worker.Start(ctx, cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), worker.Options{})
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
	return p
}

// with returns the pipeline's environment plus more.
func (p *pipeline) with(kv ...string) map[string]string {
	env := map[string]string{}
	for k, v := range p.env {
		env[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// result is what one run of amlctl did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout:\n" + r.stdout + "--- stderr:\n" + r.stderr
}

// amlctl runs the program with args in env, as a user would, and returns
// when it exits.
func amlctl(ctx context.Context, env map[string]string, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, envconfig.MapLookup(env), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
