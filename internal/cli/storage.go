package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kybflow/kybflow/client"
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
// set, for command (get, erase), which uses the storage to what (download
// from, erase from).
func (s *storageSettings) check(command, what string) error {
	if s.blobDir != "" {
		if s.endpoint != "" {
			return usagef("set BLOB_DIR or S3_ENDPOINT, not both (as for the worker)")
		}
		return nil
	}
	if s.endpoint == "" {
		return fmt.Errorf("no storage to %s: set BLOB_DIR to the worker's result directory, "+
			"or S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY to its S3 (and S3_SECURE=false for plain HTTP); see 'amlctl %s --help'", what, command)
	}
	var missing []string
	if s.accessKey == "" {
		missing = append(missing, "S3_ACCESS_KEY")
	}
	if s.secret == "" {
		missing = append(missing, "S3_SECRET_KEY")
	}
	if len(missing) > 0 {
		return fmt.Errorf("S3_ENDPOINT is set but %s is not: set it to reach the results bucket", strings.Join(missing, " and "))
	}
	if strings.Contains(s.endpoint, "://") {
		return usagef("S3_ENDPOINT %q must be host[:port] without scheme (S3_SECURE chooses HTTPS)", s.endpoint)
	}
	return nil
}

// stores is where artifacts are read from: the worker's BLOB_DIR, or its
// S3 (the bucket comes from each artifact).
type stores struct {
	cfg *storageSettings
	src client.ArtifactSource
}

func (s *storageSettings) open() (*stores, error) {
	if s.blobDir == "" {
		mc, err := minio.New(s.endpoint, &minio.Options{
			Creds: credentials.NewStaticV4(s.accessKey, s.secret, ""), Secure: s.secure, Region: s.region,
		})
		if err != nil {
			return nil, fmt.Errorf("S3_ENDPOINT %s: %w", s.endpoint, err)
		}
		return &stores{cfg: s, src: client.S3Source(mc)}, nil
	}
	// A missing directory would look like a missing object.
	fi, err := os.Stat(s.blobDir)
	if err != nil {
		return nil, fmt.Errorf("BLOB_DIR: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("BLOB_DIR %s is not a directory", s.blobDir)
	}
	return &stores{cfg: s, src: client.DirSource(s.blobDir)}, nil
}

// where names the store of bucket for an error message.
func (st *stores) where(bucket string) string {
	if st.cfg.blobDir != "" {
		return "BLOB_DIR " + st.cfg.blobDir
	}
	return fmt.Sprintf("S3 %s bucket %s", st.cfg.endpoint, bucket)
}
