// Tests of get from S3, and the check of what get downloaded.

package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
)

// TestGetFromS3 downloads from a real MinIO, where the worker stored.
func TestGetFromS3(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, true)
	ctx := context.Background()
	r := amlctl(ctx, p.env, "lookup", "--wait", "--timeout", "30s", "--lookup-id", "s3-no", "--report", "aml", "923609016")
	if r.code != 0 || !strings.Contains(r.stdout, "results/lookups/s3-no/report-aml.pdf") {
		t.Fatalf("lookup: want exit 0 and the object:\n%s", r)
	}
	dir := t.TempDir()
	r = amlctl(ctx, p.env, "get", "--dir", dir, "s3-no")
	if r.code != 0 {
		t.Fatalf("get: want exit 0:\n%s", r)
	}
	checkDownloaded(t, ctx, p, r, dir, "s3-no", "json.json", "report-aml.pdf")
	if !strings.Contains(r.stdout, "report-aml.pdf  signature valid, signer CN=") || r.stderr != "" {
		t.Errorf("get: want the report's signature valid again, nothing on stderr:\n%s", r)
	}
	// Without the trust store the signature is untrusted here, not as the
	// worker recorded it: said so, and --require-valid fails.
	r = amlctl(ctx, p.with("REPORT_TRUST_CA", ""), "get", "--dir", t.TempDir(), "--require-valid", "s3-no")
	if r.code != 1 || !strings.Contains(r.stdout, "signature untrusted") ||
		!strings.Contains(r.stderr, "report:aml: the worker recorded its signature valid; checked here: untrusted") ||
		!strings.Contains(r.stderr, "1 report signature of lookup s3-no not valid (--require-valid)") {
		t.Errorf("get --require-valid without REPORT_TRUST_CA: want exit 1, untrusted, said so:\n%s", r)
	}

	// Wrong credentials: the error says where it read from.
	r = amlctl(ctx, p.with("S3_SECRET_KEY", "wrong"), "get", "--dir", t.TempDir(), "s3-no")
	if r.code != 1 || !strings.Contains(r.stderr, "bucket results") || strings.Contains(r.stderr, "wrong") {
		t.Fatalf("get with a wrong secret: want exit 1 naming the bucket, not the secret:\n%s", r)
	}
}

// checkDownloaded checks that get printed each file's path and wrote it,
// mode 0600, with the size and sha256 of the completed event.
func checkDownloaded(t *testing.T, ctx context.Context, p *pipeline, r result, dir, lookupID string, files ...string) {
	t.Helper()
	var paths []string // a report's line goes on with its signature
	for line := range strings.Lines(r.stdout) {
		if f := strings.Fields(line); len(f) > 0 {
			paths = append(paths, f[0])
		}
	}
	if len(paths) != len(files) {
		t.Fatalf("want %d paths:\n%s", len(files), r)
	}
	events := amlctl(ctx, p.env, "events", "--lookup", lookupID, "--json", "--follow=false")
	var completed kybflow.CompletedData
	for line := range strings.SplitSeq(strings.TrimSpace(events.stdout), "\n") {
		e, err := kybflow.DecodeEvent([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := e.Data.(kybflow.CompletedData); ok {
			completed = d
		}
	}
	want := map[string]kybflow.Artifact{}
	for _, a := range completed.Artifacts {
		want[filepath.Base(a.Key)] = a
	}
	for i, name := range files {
		path := filepath.Join(dir, lookupID, name)
		if paths[i] != path {
			t.Errorf("path %d is %s, want %s", i, paths[i], path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		a := want[name]
		if hex.EncodeToString(sum[:]) != a.SHA256 || int64(len(data)) != a.Size {
			t.Errorf("%s: %d bytes sha256 %x; the event says %d bytes sha256 %s", name, len(data), sum, a.Size, a.SHA256)
		}
		if strings.HasSuffix(name, ".pdf") && !strings.HasPrefix(string(data), "%PDF-") {
			t.Errorf("%s does not start with %%PDF-: %q", name, data[:min(len(data), 16)])
		}
		if strings.HasSuffix(name, ".json") && !json.Valid(data) {
			t.Errorf("%s is not JSON", name)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (%v)", name, fi.Mode().Perm(), err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, lookupID))
	if len(entries) != len(files) {
		t.Errorf("%d files in %s, want %d (no temporary files left): %v", len(entries), dir, len(files), entries)
	}
}
