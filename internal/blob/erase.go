package blob

// Erasing everything under a key prefix (S3.ErasePrefix, Dir.ErasePrefix):
// what a GDPR erasure of one lookup needs of a store. Unlike Delete, which
// removes the object a reader sees, ErasePrefix leaves nothing of the
// prefix's bytes that the store can still hand out: every version and
// delete marker of a versioned bucket, the parts of every incomplete
// multipart upload, and a directory's sidecars and the temporary files of
// Puts cut short.

import (
	"fmt"
	"slices"
	"strings"
)

// Erased is what ErasePrefix removed.
type Erased struct {
	// Objects are the keys of the objects a Get would have found (the
	// current versions), sorted.
	Objects []string
	// Versions counts the other versions and the delete markers removed
	// (S3 with versioning); 0 for Dir.
	Versions int
	// Uploads counts the incomplete writes removed: S3 multipart uploads
	// aborted, Dir temporary files of Puts cut short.
	Uploads int
}

// Empty reports whether nothing was removed.
func (e Erased) Empty() bool { return len(e.Objects) == 0 && e.Versions == 0 && e.Uploads == 0 }

// validatePrefix checks an ErasePrefix prefix: a valid key followed by a
// slash, so that a prefix can never be empty (the whole store) nor end in
// the middle of a segment ("lookups/a" would take "lookups/ab/" too).
func validatePrefix(prefix string) error {
	if !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("%w %q: a prefix must end with a slash", ErrInvalidKey, prefix)
	}
	if err := validateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	return nil
}

// underPrefix returns the keys of keys under prefix, sorted, without
// duplicates.
func underPrefix(prefix string, keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
