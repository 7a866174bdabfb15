package blob

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// copyBufferSize is the buffer through which Dir.Put copies a stream.
const copyBufferSize = 256 << 10

// copyBuffers are Dir.Put's copy buffers, reused: one allocated per put
// was most of what a lookup allocated in dev mode.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// Put streams r to key and returns the stored object's description. size is
// the length of r, or -1 if unknown; if it is given and r yields a different
// number of bytes, Put fails with ErrSizeMismatch and stores nothing. The
// object becomes visible under key atomically, after it and its sidecar are
// on disk; an existing object is replaced.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Object, error) {
	obj, err := d.put(ctx, key, r, size, opts)
	if err != nil {
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	return obj, nil
}

func (d *Dir) put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (obj Object, err error) {
	if err := validateKey(key); err != nil {
		return Object{}, err
	}
	if size < -1 {
		return Object{}, fmt.Errorf("%w: size %d (want -1 for unknown, or >= 0)", ErrSizeMismatch, size)
	}
	if err := validateMetadata(opts.Metadata); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return Object{}, err
	}
	defer root.Close()

	name, metaName := paths(key)
	dir := filepath.Dir(name)
	if dir != "." {
		if err := root.MkdirAll(dir, dirMode); err != nil {
			return Object{}, err
		}
	}
	if fi, err := root.Lstat(name); err == nil && fi.IsDir() {
		return Object{}, fmt.Errorf("%s is a directory of other keys", key)
	}

	// Temporary files live next to their destination (same file system,
	// so the renames are atomic) under names no valid key can take.
	suffix := ".tmp-" + rand.Text()
	tmp := filepath.Join(dir, "."+filepath.Base(name)+suffix)
	tmpMeta := metaName + suffix
	committed := false
	defer func() {
		if !committed {
			_ = root.Remove(tmp)
			_ = root.Remove(tmpMeta)
		}
	}()

	src := newHashingReader(ctx, r, size)
	if err := writeFile(root, tmp, func(w io.Writer) error {
		// Hide the file's ReadFrom so that the copy uses our buffer.
		buf := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(buf)
		_, err := io.CopyBuffer(struct{ io.Writer }{w}, src, *buf)
		if ferr := src.failure(); ferr != nil {
			return ferr
		}
		return err
	}); err != nil {
		return Object{}, err
	}
	sum, err := src.done()
	if err != nil {
		return Object{}, err
	}

	contentType := opts.contentType()
	final, err := opts.final()
	if err != nil {
		return Object{}, err
	}
	meta, err := json.Marshal(sidecar{ContentType: contentType, SHA256: sum, Size: src.n, Metadata: final})
	if err != nil {
		return Object{}, err
	}
	if err := writeFile(root, tmpMeta, func(w io.Writer) error {
		_, err := w.Write(meta)
		return err
	}); err != nil {
		return Object{}, err
	}

	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	if err := d.commit(root, key, tmp, tmpMeta, name, metaName); err != nil {
		return Object{}, err
	}
	committed = true
	if err := syncDir(root, dir); err != nil {
		return Object{}, err
	}
	return Object{Bucket: d.name, Key: key, Size: src.n, SHA256: sum, ContentType: contentType}, nil
}

// commit renames the sidecar, then the object, into place: an object is
// never visible without its sidecar.
func (d *Dir) commit(root *os.Root, key, tmp, tmpMeta, name, metaName string) error {
	defer d.lock(key)()
	if err := root.Rename(tmpMeta, metaName); err != nil {
		return err
	}
	return root.Rename(tmp, name)
}
