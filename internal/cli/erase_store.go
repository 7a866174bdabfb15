package cli

// The store erase erases from: the worker's BLOB_DIR, or its S3_BUCKET,
// reached before anything is erased.

import (
	"context"
	"fmt"
	"os"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/erasure"
)

// openStore opens the store of cfg: BLOB_DIR, or S3_BUCKET in S3.
func openStore(ctx context.Context, cfg *storageSettings) (erasure.Store, error) {
	if cfg.Dir == "" {
		s, err := blob.NewS3(ctx, cfg.S3Config())
		if err != nil {
			return nil, fmt.Errorf("S3_ENDPOINT %s, bucket %s: %w", cfg.Endpoint, cfg.Bucket, err)
		}
		// A wrong endpoint or secret must not leave erasures begun.
		if err := s.Ping(ctx); err != nil {
			return nil, fmt.Errorf("S3_ENDPOINT %s, S3_BUCKET %s: %w", cfg.Endpoint, cfg.Bucket, err)
		}
		return s, nil
	}
	// blob.NewDir would make a missing directory: a wrong BLOB_DIR must
	// not look like a lookup without objects.
	fi, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("BLOB_DIR: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("BLOB_DIR %s is not a directory", cfg.Dir)
	}
	d, err := blob.NewDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("BLOB_DIR: %w", err)
	}
	return d, nil
}
