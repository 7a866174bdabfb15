package blob

// The storage group of settings (BLOB_DIR and S3_*), declared here once for
// every binary (see internal/envconfig, Groups): the worker stores results
// with them, amlctl reads and erases them, development mode hands them to
// its worker.

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// Settings are where results are stored: a local directory (Dir) or S3.
type Settings struct {
	Dir string // BLOB_DIR; set, the S3 settings are not used

	Endpoint  string // S3_ENDPOINT: host[:port], no scheme
	Bucket    string // S3_BUCKET
	AccessKey string // S3_ACCESS_KEY
	SecretKey string // S3_SECRET_KEY; never shown
	Region    string // S3_REGION; "" is discovered
	Secure    bool   // S3_SECURE: HTTPS; default on

	SSE          bool // S3_SSE
	PartSize     int  // S3_PART_SIZE, bytes
	UploadMemory int  // S3_UPLOAD_MEMORY, bytes
}

// DefaultSettings are S3 over HTTPS with DefaultPartSize and
// DefaultUploadMemory; nothing says where yet.
func DefaultSettings() Settings {
	return Settings{Secure: true, PartSize: DefaultPartSize, UploadMemory: DefaultUploadMemory}
}

// Parts of Settings a binary may register alone (RegisterParts).
type Parts uint8

// The parts.
const (
	// PartS3: how S3 is reached (S3_ENDPOINT, S3_ACCESS_KEY,
	// S3_SECRET_KEY, S3_REGION, S3_SECURE).
	PartS3 Parts = 1 << iota
	// PartBucket: S3_BUCKET (a reader of artifacts has it from each one).
	PartBucket
	// PartUpload: how objects are written (S3_SSE, S3_PART_SIZE,
	// S3_UPLOAD_MEMORY).
	PartUpload
	// PartDir: BLOB_DIR.
	PartDir

	AllParts = PartS3 | PartBucket | PartUpload | PartDir
)

// Register registers every setting, with the values c holds as their
// defaults.
func (c *Settings) Register(s *envconfig.Set) { c.RegisterParts(s, AllParts) }

// RegisterParts registers the settings of parts, in the one order, with
// the values c holds as their defaults.
func (c *Settings) RegisterParts(s *envconfig.Set, parts Parts) {
	has := func(p Parts) bool { return parts&p != 0 }
	if has(PartS3) {
		s.String(&c.Endpoint, "S3_ENDPOINT", "s3-endpoint", c.Endpoint, "S3 endpoint host[:port], e.g. s3.eu-north-1.amazonaws.com or 127.0.0.1:9000")
	}
	if has(PartBucket) {
		s.String(&c.Bucket, "S3_BUCKET", "s3-bucket", c.Bucket, "S3 bucket of the results (the worker creates it if missing)")
	}
	if has(PartS3) {
		s.String(&c.AccessKey, "S3_ACCESS_KEY", "s3-access-key", c.AccessKey, "S3 access key")
		s.Secret(&c.SecretKey, "S3_SECRET_KEY", "s3-secret-key", "S3 secret key")
		s.String(&c.Region, "S3_REGION", "s3-region", c.Region, "S3 region (empty: discovered)")
		s.Bool(&c.Secure, "S3_SECURE", "s3-secure", c.Secure, "use HTTPS to S3 (false for a local MinIO on plain HTTP)")
	}
	if has(PartUpload) {
		s.Bool(&c.SSE, "S3_SSE", "s3-sse", c.SSE, "ask S3 for server-side encryption (SSE-S3) of every object")
		s.Int(&c.PartSize, "S3_PART_SIZE", "s3-part-size", c.PartSize,
			fmt.Sprintf("multipart part size in bytes, for results of unknown size larger than %d MiB", SmallObjectSize>>20))
		s.Int(&c.UploadMemory, "S3_UPLOAD_MEMORY", "s3-upload-memory", c.UploadMemory,
			"bytes of part buffers all uploads share (S3_UPLOAD_MEMORY/S3_PART_SIZE large uploads of unknown size at once; others never wait)")
	}
	if has(PartDir) {
		s.String(&c.Dir, "BLOB_DIR", "blob-dir", c.Dir, "local directory the results are stored in, instead of S3")
	}
}

// Check reports what keeps c from making a store to write results to: a
// directory or S3 (endpoint, bucket and keys), not both; each problem names
// its variable.
func (c Settings) Check(ck *envconfig.Checker) {
	if c.Dir != "" {
		ck.Check(c.Endpoint == "" && c.Bucket == "", "BLOB_DIR", "set BLOB_DIR or the S3_* variables, not both")
		return
	}
	ck.Check(c.Endpoint != "", "S3_ENDPOINT", "S3_ENDPOINT is required (or set BLOB_DIR to store in a local directory)")
	ck.Require("S3_BUCKET", c.Bucket)
	ck.Require("S3_ACCESS_KEY", c.AccessKey)
	ck.Require("S3_SECRET_KEY", c.SecretKey)
	ck.Check(!strings.Contains(c.Endpoint, "://"), "S3_ENDPOINT", "%q must be host[:port] without scheme (set S3_SECURE for HTTPS)", c.Endpoint)
	ck.Check(c.PartSize >= MinPartSize && c.PartSize <= MaxPartSize, "S3_PART_SIZE", "must be from %d (5 MiB) to %d (5 GiB), got %d",
		MinPartSize, MaxPartSize, c.PartSize)
	ck.Check(c.UploadMemory >= c.PartSize, "S3_UPLOAD_MEMORY", "must be at least S3_PART_SIZE (%d), got %d", c.PartSize, c.UploadMemory)
}

// S3Config is the configuration of the S3 store of c.
func (c Settings) S3Config() S3Config {
	return S3Config{
		Endpoint: c.Endpoint, Bucket: c.Bucket, AccessKey: c.AccessKey, SecretKey: c.SecretKey, Region: c.Region, Secure: c.Secure,
		SSE: c.SSE, PartSize: int64(c.PartSize), UploadMemory: int64(c.UploadMemory),
	}
}

// LogValue shows where results are stored, never the secret key.
func (c Settings) LogValue() slog.Value {
	if c.Dir != "" {
		return slog.GroupValue(slog.String("dir", c.Dir))
	}
	return c.S3Config().LogValue()
}

// String is LogValue's text, so that printing c shows no secret either.
func (c Settings) String() string { return c.LogValue().String() }
