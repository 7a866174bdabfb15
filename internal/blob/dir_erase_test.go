package blob_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

// TestDirErasePrefix erases what a crash can leave beside the objects
// (temporary files, a sidecar without its object), and a symbolic link,
// without following it out of the root; the prefix's directories go too.
func TestDirErasePrefix(t *testing.T) {
	d := newDir(t)
	ctx := t.Context()
	for _, key := range []string{"aml/lk-1/json.json", "aml/lk-1/sub/report.pdf", "aml/lk-10/json.json"} {
		if _, err := d.Put(ctx, key, strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(d.Location(), "aml", "lk-1")
	for name, content := range map[string]string{
		".report-aml.pdf.tmp-ABC":           "half a report", // a Put cut short
		".report-aml.pdf.meta.json.tmp-ABC": "{}",
		".orphan.pdf.meta.json":             "{}", // a sidecar without its object
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	e, err := d.ErasePrefix(ctx, "aml/lk-1/", nil)
	want := []string{"aml/lk-1/json.json", "aml/lk-1/link", "aml/lk-1/sub/report.pdf"}
	if err != nil || !slices.Equal(e.Objects, want) || e.Uploads != 2 || e.Versions != 0 {
		t.Fatalf("ErasePrefix = %+v, %v; want objects %q and 2 temporary files", e, err, want)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("the prefix's directory is left: %v (files %v)", err, files(t, d.Location()))
	}
	if b, err := os.ReadFile(outside); err != nil || !bytes.Equal(b, []byte("outside")) {
		t.Errorf("the file the link pointed to changed: %q, %v", b, err)
	}
	if _, err := d.Stat(ctx, "aml/lk-10/json.json"); err != nil {
		t.Errorf("aml/lk-10, beside the prefix: %v", err)
	}
}
