package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kybflow/kybflow/internal/blob"
)

// storageSettings are the worker's storage variables that get reads to
// download artifacts: BLOB_DIR, or the S3 connection. The bucket comes from
// each artifact.
type storageSettings struct {
	blobDir                     string
	endpoint, accessKey, secret string
	region                      string
	secure                      bool
}

func (s *storageSettings) register(f *flags) {
	f.EnvString(&s.blobDir, "BLOB_DIR", "blob-dir", "",
		"the directory the worker stores results in (its BLOB_DIR), when it stores them locally; set it or S3_ENDPOINT")
	f.EnvString(&s.endpoint, "S3_ENDPOINT", "s3-endpoint", "",
		"S3 endpoint host[:port] of the worker's storage, e.g. s3.eu-north-1.amazonaws.com or 127.0.0.1:9000")
	f.EnvString(&s.accessKey, "S3_ACCESS_KEY", "s3-access-key", "", "S3 access key (with read access to the results bucket)")
	f.EnvSecret(&s.secret, "S3_SECRET_KEY", "s3-secret-key", "S3 secret key")
	f.EnvString(&s.region, "S3_REGION", "s3-region", "", "S3 region (empty: discovered)")
	f.EnvBool(&s.secure, "S3_SECURE", "s3-secure", true, "use HTTPS to S3 (false for a local MinIO on plain HTTP)")
}

// check reports a configuration that cannot work, naming the variables to
// set.
func (s *storageSettings) check() error {
	if s.blobDir != "" {
		if s.endpoint != "" {
			return usagef("set BLOB_DIR or S3_ENDPOINT, not both (as for the worker)")
		}
		return nil
	}
	if s.endpoint == "" {
		return errors.New("no storage to download from: set BLOB_DIR to the worker's result directory, " +
			"or S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY to its S3 (and S3_SECURE=false for plain HTTP); see 'amlctl get --help'")
	}
	var missing []string
	if s.accessKey == "" {
		missing = append(missing, "S3_ACCESS_KEY")
	}
	if s.secret == "" {
		missing = append(missing, "S3_SECRET_KEY")
	}
	if len(missing) > 0 {
		return fmt.Errorf("S3_ENDPOINT is set but %s is not: set it to read the results bucket", strings.Join(missing, " and "))
	}
	if strings.Contains(s.endpoint, "://") {
		return usagef("S3_ENDPOINT %q must be host[:port] without scheme (S3_SECURE chooses HTTPS)", s.endpoint)
	}
	return nil
}

// stores opens the stores artifacts are read from: one directory, or one S3
// client per bucket.
type stores struct {
	cfg *storageSettings
	dir *blob.Dir
	s3  map[string]*blob.S3
}

func (s *storageSettings) open() (*stores, error) {
	st := &stores{cfg: s, s3: map[string]*blob.S3{}}
	if s.blobDir == "" {
		return st, nil
	}
	// NewDir would create a missing directory: a typo would look like a
	// missing object.
	fi, err := os.Stat(s.blobDir)
	if err != nil {
		return nil, fmt.Errorf("BLOB_DIR: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("BLOB_DIR %s is not a directory", s.blobDir)
	}
	d, err := blob.NewDir(s.blobDir)
	if err != nil {
		return nil, fmt.Errorf("BLOB_DIR: %w", err)
	}
	st.dir = d
	return st, nil
}

// forBucket is the store that holds bucket's objects.
func (st *stores) forBucket(ctx context.Context, bucket string) (objectGetter, error) {
	if st.dir != nil {
		return st.dir, nil
	}
	if s, ok := st.s3[bucket]; ok {
		return s, nil
	}
	c := st.cfg
	s, err := blob.NewS3(ctx, blob.S3Config{
		Endpoint: c.endpoint, Bucket: bucket, AccessKey: c.accessKey, SecretKey: c.secret,
		Region: c.region, Secure: c.secure,
	})
	if err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT %s, bucket %s: %w", c.endpoint, bucket, err)
	}
	st.s3[bucket] = s
	return s, nil
}

// where names the store of bucket for an error message.
func (st *stores) where(bucket string) string {
	if st.dir != nil {
		return "BLOB_DIR " + st.dir.Location()
	}
	return fmt.Sprintf("S3 %s bucket %s", st.cfg.endpoint, bucket)
}
