package blob

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
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

// copyBufferSize is the buffer through which Dir.Put copies a stream.
const copyBufferSize = 256 << 10

// copyBuffers are Dir.Put's copy buffers, reused: one allocated per put
// was most of what a lookup allocated in dev mode.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

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
	meta, err := json.Marshal(sidecar{ContentType: contentType, SHA256: sum, Size: src.n, Metadata: opts.Metadata})
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

// writeFile creates name (which must not exist) with mode 0600, fills it
// with write, and syncs it to disk.
func writeFile(root *os.Root, name string, write func(io.Writer) error) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes the renames in dir durable.
func syncDir(root *os.Root, dir string) error {
	f, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}

// Get opens the object under key. The caller must close the reader; reads
// fail once ctx is done. A missing object is ErrNotFound.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	f, info, err := d.open(ctx, key)
	if err != nil {
		return nil, Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	return &ctxFile{ctx: ctx, f: f}, info, nil
}

func (d *Dir) open(ctx context.Context, key string) (*os.File, Info, error) {
	if err := validateKey(key); err != nil {
		return nil, Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Info{}, err
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return nil, Info{}, err
	}
	defer root.Close()
	name, metaName := paths(key)
	defer d.lock(key)()
	f, err := root.Open(name)
	if err != nil {
		return nil, Info{}, missing(err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w: a directory of other keys", ErrNotFound)
	}
	var info Info
	if err == nil {
		info, err = readSidecar(root, metaName, fi.Size())
	}
	if err != nil {
		f.Close()
		return nil, Info{}, err
	}
	return f, info, nil
}

// Stat returns the attributes of the object under key. A missing object is
// ErrNotFound.
func (d *Dir) Stat(ctx context.Context, key string) (Info, error) {
	info, err := d.stat(ctx, key)
	if err != nil {
		return Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return info, nil
}

func (d *Dir) stat(ctx context.Context, key string) (Info, error) {
	if err := validateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return Info{}, err
	}
	defer root.Close()
	name, metaName := paths(key)
	defer d.lock(key)()
	fi, err := root.Stat(name)
	if err != nil {
		return Info{}, missing(err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("%w: a directory of other keys", ErrNotFound)
	}
	info, err := readSidecar(root, metaName, fi.Size())
	if err != nil {
		return Info{}, err
	}
	return info, nil
}

// readSidecar reads the attributes of an object of the given size. A missing
// sidecar means the object is being deleted (Delete removes the object
// first), so it is reported as ErrNotFound. A sidecar recording another size
// belongs to another version of the object (a crash between the two renames
// of an overwrite): its hash is not reported.
func readSidecar(root *os.Root, metaName string, size int64) (Info, error) {
	b, err := root.ReadFile(metaName)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, fmt.Errorf("%w: no sidecar %s (object deleted, or not written by Put)", ErrNotFound, metaName)
		}
		return Info{}, err
	}
	var sc sidecar
	if err := json.Unmarshal(b, &sc); err != nil {
		return Info{}, fmt.Errorf("sidecar %s: %w", metaName, err)
	}
	if sc.Metadata == nil {
		sc.Metadata = map[string]string{}
	}
	if sc.Size != size {
		sc.SHA256 = ""
	}
	return Info{Size: size, ContentType: sc.ContentType, SHA256: sc.SHA256, Metadata: sc.Metadata}, nil
}

// Delete removes the object under key and its sidecar. Deleting a missing
// object succeeds. Empty directories are left in place.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := d.delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (d *Dir) delete(ctx context.Context, key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return err
	}
	defer root.Close()
	name, metaName := paths(key)
	defer d.lock(key)()
	if fi, err := root.Lstat(name); err == nil && fi.IsDir() {
		return nil // a "directory" of other keys: no object here
	}
	// Object first, so that it is never visible without its sidecar.
	if err := root.Remove(name); err != nil && !isMissing(err) {
		return err
	}
	if err := root.Remove(metaName); err != nil && !isMissing(err) {
		return err
	}
	return nil
}

// isMissing reports a "no such file" error, including a path component that
// is a file (ENOTDIR: key a/b when a is an object).
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// missing adds ErrNotFound to a "no such file" error.
func missing(err error) error {
	if isMissing(err) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// ctxFile is an object opened by Dir.Get whose reads stop when ctx is done.
// It does not embed *os.File: io.Copy would use the file's WriteTo and
// bypass the check.
type ctxFile struct {
	ctx context.Context
	f   *os.File
}

func (f *ctxFile) Read(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	return f.f.Read(p)
}

func (f *ctxFile) Close() error { return f.f.Close() }
