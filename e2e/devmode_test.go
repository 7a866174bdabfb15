package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kybflow/kybflow/internal/testenv"
)

// TestDevModeRunsASampleLookup runs the README's run command (`kybflow-dev`)
// as a user would, with free ports: it must complete a sample lookup,
// leave a JSON file and PDFs that pdfinfo accepts, print how to submit
// more, keep running, and stop cleanly on Ctrl-C.
func TestDevModeRunsASampleLookup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kybflow-dev binary")
	}
	bin := build(t)
	data := t.TempDir()
	p := start(t, "kybflow-dev", filepath.Join(bin, "kybflow-dev"), []string{"SANDBOX_READY_AFTER=300ms"},
		"--data-dir", data, "--nats-port", "0", "--sandbox-listen", "127.0.0.1:0", "--bridge-listen", "127.0.0.1:0",
		"--worker-http-addr", "127.0.0.1:0", "--bridge-http-addr", "127.0.0.1:0", "--console-listen", "127.0.0.1:0")

	if err := testenv.Poll(90*time.Second, func() error {
		select {
		case err := <-p.done:
			p.done <- err // for the cleanup, which waits for the exit
			t.Fatalf("dev mode exited: %v\n%s", err, p.out.String())
		default:
		}
		if !strings.Contains(p.out.String(), "Press Ctrl-C to stop.") {
			return errors.New("not ready")
		}
		return nil
	}); err != nil {
		t.Fatalf("dev mode did not finish its sample lookup:\n%s", p.out.String())
	}
	out := p.out.String()
	for _, want := range []string{"completed", "amlctl lookup --wait", "NATS_URL=nats://127.0.0.1:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}

	results := filepath.Join(data, "results")
	var jsons, pdfs []string
	_ = filepath.WalkDir(results, func(path string, d os.DirEntry, err error) error { // the callback never fails, so neither does the walk
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			switch filepath.Ext(path) {
			case ".json":
				jsons = append(jsons, path)
			case ".pdf":
				pdfs = append(pdfs, path)
			}
		}
		return nil
	})
	if len(jsons) != 1 || len(pdfs) != 2 {
		t.Fatalf("results: %d JSON files and %d PDFs under %s, want 1 and 2", len(jsons), len(pdfs), results)
	}
	b, err := os.ReadFile(jsons[0])
	if err != nil || !json.Valid(b) {
		t.Errorf("%s is not JSON: %v", jsons[0], err)
	}
	for _, pdf := range pdfs {
		if !strings.Contains(out, pdf) {
			t.Errorf("the output does not say where %s landed", pdf)
		}
		if path, err := exec.LookPath("pdfinfo"); err == nil {
			info, err := exec.Command(path, pdf).CombinedOutput()
			if err != nil || !bytes.Contains(info, []byte("Pages:")) {
				t.Errorf("pdfinfo %s: %v\n%s", pdf, err, info)
			}
		} else if os.Getenv("REQUIRE_PDF_TOOLS") == "1" {
			t.Error("pdfinfo is not installed")
		}
	}

	// Ctrl-C: a clean stop, exit status 0.
	_ = p.cmd.Process.Signal(syscall.SIGINT) // fails only if it has exited: done says how
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("dev mode exited with %v after Ctrl-C\n%s", err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev mode did not stop within 30s of Ctrl-C")
	}
}

// TestDevModeStoresInS3WhenConfigured: with the S3_* variables set, dev
// mode puts the sample's results in the bucket instead of the folder.
func TestDevModeStoresInS3WhenConfigured(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kybflow-dev binary")
	}
	bin := build(t)
	s3 := testenv.MinIO(t)
	data := t.TempDir()
	p := start(t, "kybflow-dev", filepath.Join(bin, "kybflow-dev"), []string{
		"SANDBOX_READY_AFTER=300ms", "S3_ENDPOINT=" + s3.Endpoint, "S3_ACCESS_KEY=" + s3.AccessKey,
		"S3_SECRET_KEY=" + s3.SecretKey, "S3_BUCKET=dev-results", "S3_REGION=us-east-1", "S3_SECURE=false",
	}, "--data-dir", data, "--nats-port", "0", "--sandbox-listen", "127.0.0.1:0", "--bridge-listen", "127.0.0.1:0",
		"--worker-http-addr", "127.0.0.1:0", "--bridge-http-addr", "127.0.0.1:0", "--console-listen", "127.0.0.1:0")
	if err := testenv.Poll(90*time.Second, func() error {
		if !strings.Contains(p.out.String(), "Press Ctrl-C to stop.") {
			return errors.New("not ready")
		}
		return nil
	}); err != nil {
		t.Fatalf("dev mode did not finish its sample lookup:\n%s", p.out.String())
	}
	out := p.out.String()
	if !strings.Contains(out, "bucket dev-results") || !strings.Contains(out, "dev-results/lookups/") {
		t.Errorf("output does not point at the bucket:\n%s", out)
	}
	mc, err := minio.New(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for obj := range mc.ListObjects(t.Context(), "dev-results", minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d objects in the bucket, want the sample's JSON and 2 PDFs", n)
	}
	if _, err := os.Stat(filepath.Join(data, "results")); err == nil {
		t.Error("results were also written to the data folder")
	}
}
