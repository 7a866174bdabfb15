package cli

// The objects erase deletes: the artifacts a lookup's record lists, and
// the keys its artifacts would have (kybflow.ObjectKeys), in the worker's
// store: BLOB_DIR, or S3.

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
)

// objectStore is what erase needs of a blob store.
type objectStore interface {
	Stat(ctx context.Context, key string) (blob.Info, error)
	Delete(ctx context.Context, key string) error
}

// objectStores are the worker's stores: its directory, or one S3 store
// per bucket (the record's artifacts name theirs; S3_BUCKET is the
// worker's).
type objectStores struct {
	cfg    *storageSettings
	dir    *blob.Dir
	bucket string // where the keys of ObjectKeys are: S3_BUCKET, or the directory's name
	s3     map[string]*blob.S3
}

// openObjects opens the stores of cfg; bucket is S3_BUCKET (unused with
// BLOB_DIR).
func openObjects(ctx context.Context, cfg *storageSettings, bucket string) (*objectStores, error) {
	o := &objectStores{cfg: cfg, bucket: bucket, s3: map[string]*blob.S3{}}
	if cfg.blobDir == "" {
		// Reach the bucket before anything is erased: a wrong endpoint or
		// secret must not leave erasures begun.
		st, err := o.s3Store(ctx, bucket)
		if err != nil {
			return nil, err
		}
		if err := st.Ping(ctx); err != nil {
			return nil, fmt.Errorf("S3_ENDPOINT %s, S3_BUCKET %s: %w", cfg.endpoint, bucket, err)
		}
		return o, nil
	}
	// blob.NewDir would make a missing directory: a wrong BLOB_DIR must
	// not look like a lookup without objects.
	fi, err := os.Stat(cfg.blobDir)
	if err != nil {
		return nil, fmt.Errorf("BLOB_DIR: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("BLOB_DIR %s is not a directory", cfg.blobDir)
	}
	if o.dir, err = blob.NewDir(cfg.blobDir); err != nil {
		return nil, fmt.Errorf("BLOB_DIR: %w", err)
	}
	o.bucket = o.dir.Bucket()
	return o, nil
}

// store is the store of bucket (the directory's, whatever bucket).
func (o *objectStores) store(ctx context.Context, bucket string) (objectStore, error) {
	if o.dir != nil {
		return o.dir, nil
	}
	return o.s3Store(ctx, bucket)
}

// s3Store is the S3 store of bucket, made once.
func (o *objectStores) s3Store(ctx context.Context, bucket string) (*blob.S3, error) {
	if s, ok := o.s3[bucket]; ok {
		return s, nil
	}
	s, err := blob.NewS3(ctx, blob.S3Config{Endpoint: o.cfg.endpoint, Bucket: bucket, AccessKey: o.cfg.accessKey,
		SecretKey: o.cfg.secret, Region: o.cfg.region, Secure: o.cfg.secure})
	if err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT %s, bucket %s: %w", o.cfg.endpoint, bucket, err)
	}
	o.s3[bucket] = s
	return s, nil
}

// object is where one object is.
type object struct{ bucket, key string }

func (ob object) String() string { return ob.bucket + "/" + ob.key }

// locations are the objects of a lookup: the artifacts (from its record),
// then the keys ObjectKeys gives the artifact names kybflow knows, in case
// the record lost them (an erasure resumed after its tombstone was
// written, a record past LOOKUP_RETENTION, a store the record never
// heard of). A report type the API added later and the record lost is
// not found this way: a bucket lifecycle rule on the prefix catches those.
func (o *objectStores) locations(keys kybflow.ObjectKeys, lookupID string, artifacts []kybflow.Artifact) []object {
	var out []object
	add := func(ob object) {
		if o.dir != nil {
			ob.bucket = o.bucket // one directory, whatever an artifact says
		}
		for _, x := range out {
			if x == ob {
				return
			}
		}
		out = append(out, ob)
	}
	for _, a := range artifacts {
		add(object{a.Bucket, a.Key})
	}
	names := []string{kybflow.ArtifactJSON}
	for _, r := range kybflow.ReportTypes(kybflow.TypeOrganization) {
		names = append(names, kybflow.ReportArtifactName(r))
	}
	for _, n := range names {
		if key, err := keys.Key(lookupID, n); err == nil {
			add(object{o.bucket, key})
		}
	}
	return out
}

// erase deletes the objects and returns those that existed. A missing one
// is deleted too (a directory store's leftovers of a crash: an object
// without its sidecar reads as missing) but not returned.
func (o *objectStores) erase(ctx context.Context, objects []object) ([]object, error) {
	var deleted []object
	for _, ob := range objects {
		st, err := o.store(ctx, ob.bucket)
		if err != nil {
			return deleted, err
		}
		_, err = st.Stat(ctx, ob.key)
		found := err == nil
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			return deleted, fmt.Errorf("object %s in %s: %w", ob, o.where(ob.bucket), err)
		}
		if err := st.Delete(ctx, ob.key); err != nil {
			return deleted, fmt.Errorf("object %s in %s: %w", ob, o.where(ob.bucket), err)
		}
		if found {
			deleted = append(deleted, ob)
		}
	}
	return deleted, nil
}

// where names the store of bucket for an error message.
func (o *objectStores) where(bucket string) string {
	if o.dir != nil {
		return "BLOB_DIR " + o.cfg.blobDir
	}
	return fmt.Sprintf("S3 %s bucket %s", o.cfg.endpoint, bucket)
}
