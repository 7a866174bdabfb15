package blob

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

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
