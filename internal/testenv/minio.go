// Package testenv starts real dependencies for tests: a MinIO server process
// today. It is imported only by _test.go files.
//
// A MinIO server takes one to three seconds to start, so start one per
// top-level test (or benchmark) and give each subtest its own bucket (see
// BucketName) rather than one server per subtest.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MinIOServer is a running MinIO server owned by one test. It is stopped by
// the test's cleanup.
type MinIOServer struct {
	Endpoint  string // host:port on the loopback interface, no scheme (plain HTTP)
	AccessKey string // root user, generated per server
	SecretKey string // root password, generated per server
	Region    string // the server's region ("us-east-1")
}

// URL returns the server's base URL, http://host:port.
func (s MinIOServer) URL() string { return "http://" + s.Endpoint }

// MinIOOption configures the server started by MinIO.
type MinIOOption func(*minioConfig)

type minioConfig struct {
	kms                  bool
	addr                 string // "" picks a free loopback port
	accessKey, secretKey string // "" generates them
}

// WithStaticKMS starts the server with a built-in static KMS key
// (MINIO_KMS_SECRET_KEY, generated per server), so that server-side
// encryption (SSE-S3) works. Without it MinIO rejects SSE-S3 requests with
// 501 NotImplemented "Server side encryption specified but KMS is not
// configured".
func WithStaticKMS() MinIOOption { return func(c *minioConfig) { c.kms = true } }

// WithAddr starts the server on addr (host:port) instead of a free port of
// its own: for a client configured before the server runs, with an address
// from FreeAddr. MinIO fails to start if another listener took the port.
func WithAddr(addr string) MinIOOption { return func(c *minioConfig) { c.addr = addr } }

// WithCredentials gives the server these root credentials instead of
// generated ones, for a client configured before the server runs. The
// secret key must be at least 8 characters.
func WithCredentials(accessKey, secretKey string) MinIOOption {
	return func(c *minioConfig) { c.accessKey, c.secretKey = accessKey, secretKey }
}

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	startTries   = 3 // the free port found may be taken before MinIO binds it
)

// MinIO starts a MinIO server process for the test and stops it when the test
// and its subtests end (SIGTERM, then SIGKILL after 10 s). The server listens
// on a free loopback port, keeps its data in a t.TempDir, has fresh root
// credentials and the web console off. MinIO's output is logged only if the
// test fails.
//
// The binary is $MINIO_BIN, else minio on $PATH, else minio in
// $(go env GOBIN) or $(go env GOPATH)/bin. When none is found the test is
// skipped, or fails if REQUIRE_MINIO=1 (as in `make test`); `make tools`
// installs it.
func MinIO(t testing.TB, opts ...MinIOOption) MinIOServer {
	t.Helper()
	var cfg minioConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin := minioBinary(t)
	var errs []error
	for range startTries {
		srv, err := startMinIO(t, bin, cfg)
		if err == nil {
			return srv
		}
		errs = append(errs, err)
	}
	t.Fatalf("testenv: start minio: %v", errors.Join(errs...))
	return MinIOServer{}
}

// minioBinary finds the MinIO binary, or skips or fails the test.
func minioBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("MINIO_BIN"); bin != "" {
		if !isExecutable(bin) {
			t.Fatalf("testenv: MINIO_BIN=%q is not an executable file", bin)
		}
		return bin
	}
	if bin, err := exec.LookPath("minio"); err == nil {
		return bin
	}
	for _, dir := range goBinDirs() {
		if bin := filepath.Join(dir, "minio"); isExecutable(bin) {
			return bin
		}
	}
	const how = "minio not found: set MINIO_BIN, put minio on PATH, or run `make tools` " +
		"(installs it into $(go env GOPATH)/bin)"
	if os.Getenv("REQUIRE_MINIO") == "1" {
		t.Fatal("testenv: REQUIRE_MINIO=1 but " + how)
	}
	t.Skip("testenv: " + how)
	return ""
}

// goBinDirs returns where `go install` puts binaries: GOBIN, else each
// GOPATH entry's bin directory.
func goBinDirs() []string {
	var gobin, gopath string
	if out, err := exec.CommandContext(context.Background(), "go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) == 2 {
			gobin, gopath = lines[0], lines[1]
		}
	}
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	var dirs []string
	if gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, p := range filepath.SplitList(gopath) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	return dirs
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path) //nolint:gosec // G703: a candidate for the MinIO binary, from MINIO_BIN or GOPATH
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// startMinIO starts one server process and waits until it serves requests.
// On failure the process is stopped and the error carries its output.
func startMinIO(t testing.TB, bin string, cfg minioConfig) (MinIOServer, error) {
	addr := cfg.addr
	if addr == "" {
		var err error
		if addr, err = freeLoopbackAddr(); err != nil {
			return MinIOServer{}, err
		}
	}
	srv := MinIOServer{
		Endpoint:  addr,
		AccessKey: "testenv-" + randomHex(8),
		SecretKey: randomHex(20),
		Region:    "us-east-1",
	}
	if cfg.accessKey != "" {
		srv.AccessKey, srv.SecretKey = cfg.accessKey, cfg.secretKey
	}

	env := []string{
		"MINIO_ROOT_USER=" + srv.AccessKey,
		"MINIO_ROOT_PASSWORD=" + srv.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_REGION=" + srv.Region,
	}
	if cfg.kms {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		env = append(env, "MINIO_KMS_SECRET_KEY=testenv-key:"+base64.StdEncoding.EncodeToString(key))
	}
	// The server sees none of the caller's MINIO_* settings, so a developer's
	// shell cannot change what the tests run against.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}

	out := new(Buffer)
	cmd := exec.CommandContext(context.Background(), bin, "server", //nolint:gosec // G204: the MinIO binary the developer pointed us to
		"--address", addr,
		"--certs-dir", t.TempDir(),
		t.TempDir(), // data
	)
	cmd.Env = env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return MinIOServer{}, fmt.Errorf("exec %s: %w", bin, err)
	}

	// The waiter goroutine is owned by this function and the cleanup below:
	// it ends when the process exits, which stop guarantees.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	if err := waitLive(srv.URL(), exited); err != nil {
		stop()
		return MinIOServer{}, fmt.Errorf("minio on %s: %w (exit: %v)\n%s", addr, err, waitErr, out.String()) //nolint:errorlint // waitErr is for reading, and may be nil (%w would print %!w(<nil>))
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("testenv: minio on %s output:\n%s", addr, out.String())
		}
	})
	return srv, nil
}

// waitLive polls /minio/health/live until the server answers 200 without the
// x-minio-server-status: offline header (MinIO answers 200 with that header
// while its object layer is still initialising).
func waitLive(baseURL string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, baseURL+"/minio/health/live", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.Header.Get("x-minio-server-status") != "offline" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not live after %s (last: %v)", startTimeout, err) //nolint:errorlint // err is nil after an answer that was not 200: %w would print %!w(<nil>)
		}
		select {
		case <-exited:
			return errors.New("exited before it was live")
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port was free a moment
// ago (FreeAddr). MinIO cannot report a port it picked itself in a
// parseable way, so a race with another listener is possible; MinIO then
// exits and startMinIO is tried again.
func freeLoopbackAddr() (string, error) { return FreeAddr() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
