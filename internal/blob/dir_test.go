package blob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/blob/blobtest"
)

var _ blobtest.Store = (*blob.Dir)(nil)

func newDir(t testing.TB) *blob.Dir {
	t.Helper()
	d, err := blob.NewDir(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDir(t *testing.T) {
	t.Run("Contract", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) blobtest.Store { return newDir(t) })
	})
}

// files lists the files under root, relative, with their modes.
func files(t *testing.T, root string) map[string]fs.FileMode {
	t.Helper()
	m := map[string]fs.FileMode{}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		m[filepath.ToSlash(rel)] = fi.Mode()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDirLayout checks what lands on disk: the object and its sidecar only
// (no temporary files, even after failed and cancelled Puts), with modes
// 0600 and 0700, and the sidecar's content.
func TestDirLayout(t *testing.T) {
	d := newDir(t)
	ctx := t.Context()
	const key = "aml/lk-1/report.pdf"
	for _, c := range []string{"first", "second"} { // an overwrite
		if _, err := d.Put(ctx, key, strings.NewReader(c), -1, blob.PutOptions{
			ContentType: "application/pdf", Metadata: map[string]string{"lookup-id": "lk-1"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Failures must clean up after themselves.
	if _, err := d.Put(ctx, "aml/lk-1/short", strings.NewReader("abc"), 4, blob.PutOptions{}); err == nil {
		t.Fatal("size mismatch not detected")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Put(cctx, "aml/lk-1/cancelled", strings.NewReader("abc"), 3, blob.PutOptions{}); err == nil {
		t.Fatal("cancelled Put succeeded")
	}

	got := files(t, d.Location())
	want := map[string]fs.FileMode{
		".":                              fs.ModeDir | 0o700,
		"aml":                            fs.ModeDir | 0o700,
		"aml/lk-1":                       fs.ModeDir | 0o700,
		"aml/lk-1/report.pdf":            0o600,
		"aml/lk-1/.report.pdf.meta.json": 0o600,
	}
	if len(got) != len(want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("%s: mode %v, want %v", name, got[name], mode)
		}
	}

	b, err := os.ReadFile(filepath.Join(d.Location(), "aml/lk-1/.report.pdf.meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	if sc["contentType"] != "application/pdf" || sc["size"] != 6.0 ||
		sc["sha256"] != "16367aacb67a4a017c8da8ab95682ccb390863780f7114dda0a0e0c55644c7c4" {
		t.Errorf("sidecar = %s", b)
	}
	obj, err := d.Put(ctx, "k", strings.NewReader("x"), 1, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Bucket != filepath.Base(d.Location()) || obj.Bucket != d.Bucket() {
		t.Errorf("Object.Bucket = %q, want the root's base name %q", obj.Bucket, filepath.Base(d.Location()))
	}
}

// TestDirEscape plants symbolic links that lead out of the root: no key
// reaches the outside, for reading or writing.
func TestDirEscape(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDir(t)
	root := d.Location()
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "filelink")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".filelink.meta.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := d.Put(ctx, "link/new", strings.NewReader("x"), 1, blob.PutOptions{}); err == nil {
		t.Error("Put through a symlink out of the root succeeded")
	}
	if _, err := d.Put(ctx, "link/secret", strings.NewReader("x"), 1, blob.PutOptions{}); err == nil {
		t.Error("Put over a file outside the root succeeded")
	}
	for _, key := range []string{"link/secret", "filelink"} {
		if rc, _, err := d.Get(ctx, key); err == nil {
			rc.Close()
			t.Errorf("Get(%q) read a file outside the root", key)
		}
		if _, err := d.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) reached a file outside the root", key)
		}
	}
	if err := d.Delete(ctx, "link/secret"); err == nil {
		t.Log("Delete(link/secret) returned nil") // allowed, as long as nothing is removed
	}
	b, err := os.ReadFile(filepath.Join(outside, "secret"))
	if err != nil || !bytes.Equal(b, []byte("outside")) {
		t.Errorf("outside file changed: %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("files appeared outside the root: %v", entries)
	}
}

func TestDirKeyConflict(t *testing.T) {
	d := newDir(t)
	ctx := t.Context()
	if _, err := d.Put(ctx, "a/b", strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := d.Put(ctx, "a", strings.NewReader("x"), 1, blob.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "put a:") {
		t.Errorf("Put(a) over the directory of a/b: err = %v, want an error naming the key", err)
	}
	_, err = d.Put(ctx, "a/b/c", strings.NewReader("x"), 1, blob.PutOptions{})
	if err == nil {
		t.Error("Put(a/b/c) below the object a/b succeeded")
	}
	if _, err := d.Stat(ctx, "a/b"); err != nil {
		t.Errorf("a/b damaged: %v", err)
	}
}

func TestNewDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "store")
	d, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("root mode = %v, want 0700", fi.Mode().Perm())
	}
	if d.Location() != root {
		t.Errorf("Location = %q, want %q", d.Location(), root)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.NewDir(file); err == nil {
		t.Error("NewDir of a file succeeded")
	}
	if _, err := blob.NewDir(""); err == nil {
		t.Error(`NewDir("") succeeded`)
	}
	// Ping fails once the directory is gone.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(t.Context()); err == nil {
		t.Error("Ping of a removed directory succeeded")
	}
}
