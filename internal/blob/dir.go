package blob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
)

// Dir stores objects as files under a root directory. It is safe for
// concurrent use, including by several processes sharing the directory
// (last writer of a key wins). See the package doc for the layout.
type Dir struct {
	root string // absolute
	name string // the Bucket of its objects: the root's base name

	// locks serialise, per key (striped), the two renames that commit an
	// object and the two reads that open one, so that within a process an
	// object and its sidecar always match. Processes sharing a directory
	// are not coordinated; see the package doc.
	locks [64]sync.Mutex
}

func (d *Dir) lock(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &d.locks[h.Sum32()%uint32(len(d.locks))]
	m.Lock()
	return m.Unlock
}

// File and directory modes: the objects hold personal data.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// NewDir returns a store rooted at root, creating the directory (mode 0700)
// if it does not exist. An existing directory keeps its mode.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("blob: directory is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob: directory %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("blob: create directory: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("blob: open directory: %w", err)
	}
	r.Close()
	return &Dir{root: abs, name: dirBucketName(abs)}, nil
}

// Location returns the absolute root directory.
func (d *Dir) Location() string { return d.root }

// Bucket is the Bucket of every Object that Put returns: the base name of
// the root directory (at most 63 bytes, like an S3 bucket name). The host
// path means nothing to a reader of an event on another machine; the key,
// relative to the directory that reader was configured with, does.
func (d *Dir) Bucket() string { return d.name }

func dirBucketName(abs string) string {
	name := filepath.Base(abs)
	if name == "/" || name == "." || name == "" {
		name = "local"
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// sidecar is the JSON stored next to each object.
type sidecar struct {
	ContentType string            `json:"contentType"`
	SHA256      string            `json:"sha256"`
	Size        int64             `json:"size"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// paths returns the object's path relative to the root and its sidecar's.
func paths(key string) (name, meta string) {
	name = filepath.FromSlash(key)
	dir, base := filepath.Split(name)
	return name, filepath.Join(dir, "."+base+".meta.json")
}

// Ping checks that the directory exists and is writable by creating and
// removing a file in it.
func (d *Dir) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ping %s: %w", d.root, err)
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return fmt.Errorf("ping %s: %w", d.root, err)
	}
	defer root.Close()
	name := ".ping-" + rand.Text()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return fmt.Errorf("ping %s: %w", d.root, err)
	}
	_, werr := f.Write([]byte("ping"))
	cerr := f.Close()
	rerr := root.Remove(name)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fmt.Errorf("ping %s: %w", d.root, err)
	}
	return nil
}
