package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/blob"
)

// storageSettings are the worker's storage settings (the group package
// blob declares) that a command reads: BLOB_DIR, or the S3 connection; the
// bucket too for erase (get has it from each artifact).
type storageSettings struct {
	blob.Settings
}

// register registers parts of the group (of blob.PartS3, PartBucket,
// PartDir).
func (s *storageSettings) register(f *flags, parts blob.Parts) {
	s.Settings = blob.DefaultSettings()
	s.RegisterParts(f.set, parts)
}

// check reports a configuration that cannot work, naming the variables to
// set, for command (get, erase), which uses the storage to what (download
// from, erase from).
func (s *storageSettings) check(command, what string) error {
	if s.Dir != "" {
		if s.Endpoint != "" {
			return usagef("set BLOB_DIR or S3_ENDPOINT, not both (as for the worker)")
		}
		return nil
	}
	if s.Endpoint == "" {
		return fmt.Errorf("no storage to %s: set BLOB_DIR to the worker's result directory, "+
			"or S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY to its S3 (and S3_SECURE=false for plain HTTP); see 'amlctl %s --help'", what, command)
	}
	var missing []string
	if s.AccessKey == "" {
		missing = append(missing, "S3_ACCESS_KEY")
	}
	if s.SecretKey == "" {
		missing = append(missing, "S3_SECRET_KEY")
	}
	if len(missing) > 0 {
		return fmt.Errorf("S3_ENDPOINT is set but %s is not: set it to reach the results bucket", strings.Join(missing, " and "))
	}
	if strings.Contains(s.Endpoint, "://") {
		return usagef("S3_ENDPOINT %q must be host[:port] without scheme (S3_SECURE chooses HTTPS)", s.Endpoint)
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
	if s.Dir == "" {
		mc, err := minio.New(s.Endpoint, &minio.Options{
			Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Secure: s.Secure, Region: s.Region,
		})
		if err != nil {
			return nil, fmt.Errorf("S3_ENDPOINT %s: %w", s.Endpoint, err)
		}
		return &stores{cfg: s, src: client.S3Source(mc)}, nil
	}
	// A missing directory would look like a missing object.
	fi, err := os.Stat(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("BLOB_DIR: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("BLOB_DIR %s is not a directory", s.Dir)
	}
	return &stores{cfg: s, src: client.DirSource(s.Dir)}, nil
}

// where names the store of bucket for an error message.
func (st *stores) where(bucket string) string {
	if st.cfg.Dir != "" {
		return "BLOB_DIR " + st.cfg.Dir
	}
	return fmt.Sprintf("S3 %s bucket %s", st.cfg.Endpoint, bucket)
}
