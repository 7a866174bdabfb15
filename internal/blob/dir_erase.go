package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// ErasePrefix removes every file under prefix (a key followed by a slash,
// e.g. "lookups/x/"), for an erasure: each object (its sidecar after it,
// as Delete does), then what else is there (sidecars without an object,
// the temporary files of Puts cut short, counted in Uploads, and files
// that no Put made), then the emptied directories, the prefix's own
// included. keys is S3's list of upload keys; a directory has no uploads
// but its files, so it is not used.
//
// A failure stops the erasure; what was removed until then is returned
// with the error. A Put of another process under the prefix while it runs
// may leave its object, and its directory, behind.
func (d *Dir) ErasePrefix(ctx context.Context, prefix string, _ []string) (Erased, error) {
	e, err := d.erasePrefix(ctx, prefix)
	if err != nil {
		return e, fmt.Errorf("erase %s: %w", prefix, err)
	}
	return e, nil
}

func (d *Dir) erasePrefix(ctx context.Context, prefix string) (Erased, error) {
	var e Erased
	if err := validatePrefix(prefix); err != nil {
		return e, err
	}
	if err := ctx.Err(); err != nil {
		return e, err
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return e, err
	}
	defer root.Close()
	objects, others, dirs, err := walkPrefix(root, strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return e, err
	}
	for _, key := range objects {
		if err := d.removeObject(root, key); err != nil {
			return e, err
		}
		e.Objects = append(e.Objects, key)
	}
	for _, name := range others {
		if err := root.Remove(filepath.FromSlash(name)); err != nil && !isMissing(err) {
			return e, err
		}
		if strings.Contains(path.Base(name), ".tmp-") {
			e.Uploads++
		}
	}
	slices.Reverse(dirs) // the deepest first
	for _, dir := range dirs {
		if err := root.Remove(filepath.FromSlash(dir)); err != nil && !isMissing(err) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return e, err
		}
	}
	return e, nil
}

// walkPrefix lists what is under the directory dir (slash-separated,
// relative to root): the objects' keys (files whose name does not start
// with a dot), the other files, and the directories, dir first, each in
// lexical order. A missing dir, or a file at its place (an object whose
// key is the prefix without its slash), holds nothing.
func walkPrefix(root *os.Root, dir string) (objects, others, dirs []string, err error) {
	fi, err := root.Lstat(filepath.FromSlash(dir))
	if isMissing(err) || (err == nil && !fi.IsDir()) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	err = fs.WalkDir(root.FS(), dir, func(name string, de fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case de.IsDir():
			dirs = append(dirs, name)
		case strings.HasPrefix(de.Name(), "."):
			others = append(others, name)
		default:
			objects = append(objects, name)
		}
		return nil
	})
	return objects, others, dirs, err
}

// removeObject removes the object under key, then its sidecar, holding
// the key's lock as Delete does: an object is never visible without its
// sidecar.
func (d *Dir) removeObject(root *os.Root, key string) error {
	name, metaName := paths(key)
	defer d.lock(key)()
	if err := root.Remove(name); err != nil && !isMissing(err) {
		return err
	}
	if err := root.Remove(metaName); err != nil && !isMissing(err) {
		return err
	}
	return nil
}
