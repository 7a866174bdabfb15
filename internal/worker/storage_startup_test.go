// Start-up with S3 not answering yet, or refusing the credentials.

package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/testenv"
)

// bootWorker starts and runs a worker with cfg, and returns what Run
// returns on done; the test's end stops it.
func bootWorker(t *testing.T, e *env, cfg Config) (app *App, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(t)
	if e.logs != nil {
		log = slog.New(slog.NewJSONHandler(io.MultiWriter(tWriter{t}, e.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	app, err := Start(ctx, cfg, log, Options{})
	if err != nil {
		cancel()
		t.Fatalf("start worker: %v", err)
	}
	ch, finished := make(chan error, 1), make(chan struct{})
	go func() {
		ch <- app.Run(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return app, ch
}

// readyz returns app's /readyz status and body.
func readyz(app *App) (int, string, error) {
	resp, err := http.Get("http://" + app.OpsAddr().String() + "/readyz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// s3Config points cfg at a MinIO on addr with these credentials.
func s3Config(cfg Config, addr, accessKey, secretKey string) Config {
	cfg.Storage.Dir = ""
	cfg.Storage.Endpoint, cfg.Storage.Bucket, cfg.Storage.AccessKey, cfg.Storage.SecretKey, cfg.Storage.Secure = addr, "results", accessKey, secretKey, false
	return cfg
}

// A worker started while S3 is down waits, unready and saying why, and
// starts work once S3 answers.
func TestWorkerWaitsForS3AtStart(t *testing.T) {
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{})
	e.logs = new(testenv.Buffer)
	e.start(false, 0) // the streams, made by a worker with BLOB_DIR
	const accessKey, secretKey = "waits-for-s3", "waits-for-s3-secret"
	app, done := bootWorker(t, e, s3Config(e.config(false), addr, accessKey, secretKey))

	testenv.Eventually(t, 30*time.Second, func() error {
		code, body, err := readyz(app)
		switch {
		case err != nil:
			return err
		case code == http.StatusOK:
			t.Fatalf("/readyz 200 while S3 is down:\n%s", body)
		case !strings.Contains(body, "storage: bucket not confirmed yet: ") || !strings.Contains(body, "connection refused"):
			return fmt.Errorf("/readyz %d without the storage reason:\n%s", code, body)
		}
		return nil
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned while S3 was down: %v", err)
	default:
	}

	srv := testenv.MinIO(t, testenv.WithAddr(addr), testenv.WithCredentials(accessKey, secretKey))
	e.s3, e.bucket = &srv, "results" // verifyArtifacts reads from it
	testenv.Eventually(t, 60*time.Second, func() error { return ready(app) })

	e.publish(cmd{LookupID: "after-s3", Type: "organization", Identifier: "923609016", Reports: []string{"aml"}}, "")
	e.verifyArtifacts(completedData(t, e.terminal("after-s3", 60*time.Second)), "json", "report:aml")

	// Logged at the first failure, then every tenth: not every attempt.
	if n := strings.Count(e.logs.String(), "storage: S3 cannot answer yet"); n < 1 || n > 3 {
		t.Errorf("%d warnings of S3 not answering, want 1 to 3 (first, then every tenth attempt)", n)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned: %v", err)
	default:
	}
}

// Credentials S3 refuses end Run at once, naming them, without waiting
// for STARTUP_TIMEOUT.
func TestWorkerStopsWhenS3RefusesCredentials(t *testing.T) {
	e := newEnv(t, envOptions{s3: true})
	cfg := e.config(false)
	cfg.Storage.SecretKey = "wrong-" + cfg.Storage.SecretKey
	_, done := bootWorker(t, e, cfg) // STARTUP_TIMEOUT: the default, minutes

	select {
	case err := <-done:
		if !errors.Is(err, blob.ErrRefused) || !strings.Contains(err.Error(), "S3_ACCESS_KEY") || !strings.Contains(err.Error(), e.s3.Endpoint) {
			t.Fatalf("Run = %v, want blob.ErrRefused naming S3_ACCESS_KEY and the endpoint", err)
		}
		t.Logf("Run = %v", err)
	case <-time.After(30 * time.Second):
		t.Fatalf("Run still waiting 30 s after S3 refused the credentials (STARTUP_TIMEOUT %s)", cfg.StartupTimeout)
	}
}

// S3 that never answers ends Run after STARTUP_TIMEOUT, saying so.
func TestWorkerGivesUpOnS3AfterStartupTimeout(t *testing.T) {
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{})
	e.start(false, 0)
	cfg := s3Config(e.config(false), addr, "nobody", "nobody-secret")
	cfg.StartupTimeout = 2 * time.Second
	_, done := bootWorker(t, e, cfg)

	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "S3_ENDPOINT "+addr) || !strings.Contains(err.Error(), "within STARTUP_TIMEOUT") || !strings.Contains(err.Error(), "gave up after") {
			t.Fatalf("Run = %v, want it to give up on S3_ENDPOINT %s within STARTUP_TIMEOUT", err, addr)
		}
		t.Logf("Run = %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run still waiting 30 s into a STARTUP_TIMEOUT of 2 s")
	}
}
