package blob

import (
	"context"
	"fmt"
	"os"
)

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
