package erasure

// The objects: everything the store holds under the lookup's own key
// prefix, found by listing it (so a report type kybflow does not know, or
// an artifact the record lost, goes too), with its versions and incomplete
// uploads (blob's ErasePrefix). The record's artifact locations are
// checked against that prefix, never deleted by themselves: one in another
// bucket, or at a key outside the prefix, is refused, with the reason.

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/kybflow/kybflow"
)

// eraseObjects erases the lookup's prefix in the store, and refuses the
// artifacts of the record that lie outside it.
func (e *Eraser) eraseObjects(ctx context.Context, r *Result, artifacts []kybflow.Artifact) error {
	prefix := e.opts.Keys.LookupPrefix(r.Key)
	var keys []string // where an upload may have been begun: the known keys
	for _, a := range artifacts {
		if why := e.refusal(a, prefix); why != "" {
			r.Refused = append(r.Refused, Refusal{Bucket: a.Bucket, Key: a.Key, Reason: why})
			continue
		}
		keys = append(keys, a.Key)
	}
	keys = append(keys, knownKeys(e.opts.Keys, r.Key)...)
	var err error
	r.Objects, err = e.store.ErasePrefix(ctx, prefix, keys)
	return err
}

// refusal says why the artifact a of the record is not the erasure's to
// delete, or "" when it lies under the lookup's prefix in the store.
func (e *Eraser) refusal(a kybflow.Artifact, prefix string) string {
	switch {
	case a.Bucket != e.store.Bucket():
		return fmt.Sprintf("in bucket %q, not the store's %q", a.Bucket, e.store.Bucket())
	case !strings.HasPrefix(a.Key, prefix) || path.Clean(a.Key) != a.Key:
		return fmt.Sprintf("outside the lookup's prefix %s", prefix)
	}
	return ""
}

// knownKeys are the keys of the artifacts kybflow knows (the JSON and
// the reports of an organization, which include those of a beneficial
// owners lookup) for the lookup key.
func knownKeys(keys kybflow.ObjectKeys, key string) []string {
	names := []string{kybflow.ArtifactJSON}
	for _, r := range kybflow.ReportTypes(kybflow.TypeOrganization) {
		names = append(names, kybflow.ReportArtifactName(r))
	}
	var out []string
	for _, n := range names {
		if k, err := keys.Key(key, n); err == nil {
			out = append(out, k)
		}
	}
	return out
}
