package blob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

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
