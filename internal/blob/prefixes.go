package blob

// Listing the prefixes under a prefix (S3.Prefixes, Dir.Prefixes): what
// finding lookups by the beginning of their key needs of a store (the
// runs of a monitor whose records have expired), one level deep, without
// reading the objects under them.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
)

// validateStart checks the beginning of a segment of Prefixes: empty, or
// what may begin a key segment.
func validateStart(start string) error {
	if start == "" {
		return nil
	}
	if strings.Contains(start, "/") {
		return fmt.Errorf("%w %q: a segment's beginning holds no slash", ErrInvalidKey, start)
	}
	if err := validateKey(start); err != nil {
		return fmt.Errorf("segment beginning: %w", err)
	}
	return nil
}

// Prefixes lists the prefixes one segment below parent (a key followed by
// a slash, e.g. "lookups/") whose segment begins with start, each as a
// prefix ("lookups/acme.kyc-1-r1772443815/"), once, sorted: those holding
// an object, or in a bucket with versioning only an older version or a
// delete marker (what ErasePrefix would erase). A prefix holding only an
// incomplete multipart upload is not listed.
func (s *S3) Prefixes(ctx context.Context, parent, start string) ([]string, error) {
	if err := validatePrefix(parent); err != nil {
		return nil, fmt.Errorf("list %s: %w", parent, err)
	}
	if err := validateStart(start); err != nil {
		return nil, fmt.Errorf("list %s: %w", parent, err)
	}
	var out []string
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: parent + start, WithVersions: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s%s: %w", parent, start, o.Err)
		}
		// Without Recursive, a key with a further slash comes as its
		// common prefix, ending in one.
		if strings.HasSuffix(o.Key, "/") && !slices.Contains(out, o.Key) {
			out = append(out, o.Key)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Prefixes lists the prefixes one segment below parent whose segment
// begins with start, as S3.Prefixes does: the directories there (their
// names not beginning with a dot), whatever they hold.
func (d *Dir) Prefixes(ctx context.Context, parent, start string) ([]string, error) {
	if err := validatePrefix(parent); err != nil {
		return nil, fmt.Errorf("list %s: %w", parent, err)
	}
	if err := validateStart(start); err != nil {
		return nil, fmt.Errorf("list %s: %w", parent, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(d.root)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), strings.TrimSuffix(parent, "/"))
	if isMissing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", parent, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && strings.HasPrefix(e.Name(), start) {
			out = append(out, parent+filepath.ToSlash(e.Name())+"/")
		}
	}
	return out, nil // ReadDir sorts by name
}
