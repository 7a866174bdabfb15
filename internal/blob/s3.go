package blob

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// Part sizes for S3 multipart uploads, and the upload memory budget.
const (
	DefaultPartSize     = 8 << 20  // S3Config.PartSize when zero
	MinPartSize         = 5 << 20  // the S3 minimum for all parts but the last
	MaxPartSize         = 5 << 30  // the S3 maximum
	DefaultUploadMemory = 32 << 20 // S3Config.UploadMemory when zero
)

// S3Config configures an S3 store. The zero value is not valid: Endpoint and
// Bucket are required.
type S3Config struct {
	Endpoint  string // host[:port], no scheme, e.g. "s3.eu-north-1.amazonaws.com" or "127.0.0.1:9000"
	Bucket    string
	AccessKey string
	SecretKey string // never logged (see LogValue)
	Region    string // optional; "" lets the client discover it
	Secure    bool   // HTTPS; false only for a local MinIO

	// PartSize is the multipart part size in bytes (see the package doc):
	// 0 means DefaultPartSize; otherwise between MinPartSize and
	// MaxPartSize, and at most UploadMemory.
	PartSize int64

	// UploadMemory is the memory, in bytes, that all the store's uploads
	// together may hold in part buffers: UploadMemory/PartSize uploads of
	// unknown size larger than SmallObjectSize buffer at once, the others
	// wait for a buffer. Uploads of known size and small ones never wait.
	// 0 means DefaultUploadMemory.
	UploadMemory int64

	// SSE requests server-side encryption with server-managed keys (SSE-S3)
	// for every object. The server must support it (MinIO needs a KMS); see
	// the package doc. Default off.
	SSE bool

	// CreateBucket makes NewS3 create the bucket if it does not exist.
	// Creating an existing bucket is not an error.
	CreateBucket bool
}

// validate returns an error naming the first invalid field.
func (c S3Config) validate() error {
	switch {
	case c.Endpoint == "":
		return errors.New("S3Config.Endpoint is empty")
	case strings.Contains(c.Endpoint, "://") || strings.Contains(c.Endpoint, "/"):
		return fmt.Errorf("S3Config.Endpoint %q must be host[:port] without scheme or path (set Secure for HTTPS)", c.Endpoint)
	case c.Bucket == "":
		return errors.New("S3Config.Bucket is empty")
	case c.PartSize != 0 && (c.PartSize < MinPartSize || c.PartSize > MaxPartSize):
		return fmt.Errorf("S3Config.PartSize %d is outside [%d, %d] (0 means %d)", c.PartSize, MinPartSize, MaxPartSize, DefaultPartSize)
	case c.UploadMemory < 0:
		return fmt.Errorf("S3Config.UploadMemory %d is negative (0 means %d)", c.UploadMemory, DefaultUploadMemory)
	case c.uploadMemory() < c.partSize():
		return fmt.Errorf("S3Config.UploadMemory %d is less than one part (PartSize %d)", c.uploadMemory(), c.partSize())
	}
	return nil
}

func (c S3Config) partSize() int64 {
	if c.PartSize == 0 {
		return DefaultPartSize
	}
	return c.PartSize
}

func (c S3Config) uploadMemory() int64 {
	if c.UploadMemory == 0 {
		return DefaultUploadMemory
	}
	return c.UploadMemory
}

// LogValue logs the configuration without the secret key.
func (c S3Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("bucket", c.Bucket),
		slog.String("region", c.Region),
		slog.Bool("secure", c.Secure),
		slog.Int64("part_size", c.PartSize),
		slog.Int64("upload_memory", c.UploadMemory),
		slog.Bool("sse", c.SSE),
		slog.Bool("create_bucket", c.CreateBucket),
		slog.Bool("access_key_set", c.AccessKey != ""),
		slog.Bool("secret_key_set", c.SecretKey != ""),
	)
}

// String formats the configuration without the secret key, so that a %v
// in an error or log line cannot leak it.
func (c S3Config) String() string {
	return fmt.Sprintf("S3Config{Endpoint:%s Bucket:%s Region:%s Secure:%t PartSize:%d SSE:%t CreateBucket:%t SecretKey:[redacted]}",
		c.Endpoint, c.Bucket, c.Region, c.Secure, c.PartSize, c.SSE, c.CreateBucket)
}

// maxIdleConnsPerHost bounds the idle connections kept to the server.
const maxIdleConnsPerHost = 128

// s3WriteBuffer is the write buffer of each connection to S3.
const s3WriteBuffer = 32 << 10

// S3 stores objects in one bucket of an S3-compatible server. It is safe for
// concurrent use.
type S3 struct {
	client *minio.Client
	probe  *minio.Client // client without retries, for EnsureBucket
	core   minio.Core    // the multipart calls, for uploads of unknown size (s3put.go)
	bucket string
	region string
	parts  *partPool
	sse    encrypt.ServerSide // nil when off
}

// NewS3 returns a store for cfg.Bucket. It contacts the server only when
// cfg.CreateBucket is set (to create the bucket if missing); use Ping to
// check that the bucket is reachable.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	transport, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 transport: %w", err)
	}
	// An idle connection kept per concurrent upload (minio-go keeps 16 per
	// host): beyond that, every upload would dial anew.
	transport.MaxIdleConnsPerHost = maxIdleConnsPerHost
	// A small artifact's request (headers and body) in one write: with
	// net/http's default of 4 KiB, a 3.4 kB PDF took two.
	transport.WriteBufferSize = s3WriteBuffer
	opts := minio.Options{
		Transport: transport,
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		// The SHA-256 goes with the upload as a trailing checksum
		// (x-amz-checksum-sha256), computed while the body streams.
		TrailingHeaders: true,
	}
	client, err := minio.New(cfg.Endpoint, &opts)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 client for %s: %w", cfg.Endpoint, err)
	}
	opts.MaxRetries = 1 // one request per call: EnsureBucket's caller retries
	probe, err := minio.New(cfg.Endpoint, &opts)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 client for %s: %w", cfg.Endpoint, err)
	}
	s := &S3{client: client, probe: probe, core: minio.Core{Client: client}, bucket: cfg.Bucket, region: cfg.Region,
		parts: newPartPool(cfg.partSize(), int(cfg.uploadMemory()/cfg.partSize()))}
	if cfg.SSE {
		s.sse = encrypt.NewSSE()
	}
	if cfg.CreateBucket {
		if err := s.createBucket(ctx, s.client); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// EnsureBucket creates the bucket if it does not exist, as NewS3 does with
// CreateBucket, for a caller that builds the store without contacting the
// server and checks the bucket later (the worker, at start, retrying while
// S3 cannot answer). Unlike the store's other calls, it sends each request
// once, without the client's own retries, so that every failure reaches
// the caller at once with its cause. An error of credentials the server
// refuses wraps ErrRefused.
func (s *S3) EnsureBucket(ctx context.Context) error { return s.createBucket(ctx, s.probe) }

func (s *S3) createBucket(ctx context.Context, client *minio.Client) error {
	exists, err := client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: check bucket %s: %w", s.bucket, refused(err))
	}
	if exists {
		return nil
	}
	err = client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if code := minio.ToErrorResponse(err).Code; code == minio.BucketAlreadyOwnedByYou {
		err = nil // created concurrently by another instance
	}
	if err != nil {
		return fmt.Errorf("blob: create bucket %s: %w", s.bucket, refused(err))
	}
	return nil
}

// refusedCodes are the S3 error codes of credentials the server refuses.
var refusedCodes = map[string]bool{
	"InvalidAccessKeyId":    true, // no such access key
	"SignatureDoesNotMatch": true, // the secret key is not the access key's
	minio.AccessDenied:      true, // the key may not do it (or, on a HEAD without a body, any 403)
}

// refused adds ErrRefused to an error of credentials the server refuses.
func refused(err error) error {
	if refusedCodes[minio.ToErrorResponse(err).Code] {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

// Location returns the bucket name.
func (s *S3) Location() string { return s.bucket }

// Bucket is the Bucket of every Object that Put returns.
func (s *S3) Bucket() string { return s.bucket }

// Ping checks that the bucket exists and the credentials can reach it. The
// client retries network errors for several seconds; give ctx a deadline.
func (s *S3) Ping(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("ping bucket %s: %w", s.bucket, err)
	}
	if !exists {
		return fmt.Errorf("ping bucket %s: %w", s.bucket, minio.ErrorResponse{
			Code: minio.NoSuchBucket, Message: "The specified bucket does not exist", StatusCode: 404, BucketName: s.bucket,
		})
	}
	return nil
}

func (s *S3) checkPut(key string, size int64, opts PutOptions) error {
	if err := validateKey(key); err != nil {
		return err
	}
	if size < -1 {
		return fmt.Errorf("%w: size %d (want -1 for unknown, or >= 0)", ErrSizeMismatch, size)
	}
	return validateMetadata(opts.Metadata)
}

// Get opens the object under key. The caller must close the reader; ctx
// governs the whole read. A missing object is ErrNotFound.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := validateKey(key); err != nil {
		return nil, Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	// Checksum mode returns the stored x-amz-checksum-sha256, and makes
	// minio-go verify a whole read against it.
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{Checksum: true})
	if err != nil {
		return nil, Info{}, fmt.Errorf("get %s: %w", key, notFound(err))
	}
	oi, err := obj.Stat() // sends the GET and reads the headers
	if err != nil {
		obj.Close()
		return nil, Info{}, fmt.Errorf("get %s: %w", key, notFound(err))
	}
	return obj, infoFromS3(oi), nil
}

// Stat returns the attributes of the object under key. A missing object is
// ErrNotFound.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := validateKey(key); err != nil {
		return Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		return Info{}, fmt.Errorf("stat %s: %w", key, notFound(err))
	}
	return infoFromS3(oi), nil
}

// Delete removes the object under key. Deleting a missing object succeeds.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := validateKey(key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// notFound adds ErrNotFound to a missing-object error.
func notFound(err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// infoFromS3 reads an object's attributes. Its SHA-256 is the "sha256"
// metadata of a multipart upload (and of objects written by earlier
// versions), or else the full-object checksum x-amz-checksum-sha256 of a
// single PUT; a composite checksum (of a multipart upload, "<b64>-<parts>")
// is not the object's SHA-256 and is ignored.
func infoFromS3(oi minio.ObjectInfo) Info {
	info := Info{Size: oi.Size, ContentType: oi.ContentType, Metadata: make(map[string]string, len(oi.UserMetadata))}
	for k, v := range oi.UserMetadata {
		k = strings.ToLower(strings.TrimPrefix(k, "X-Amz-Meta-"))
		if k == metaSHA256 {
			info.SHA256 = v
			continue
		}
		info.Metadata[k] = v
	}
	if info.SHA256 == "" {
		info.SHA256 = hexChecksum(oi.ChecksumSHA256, oi.ChecksumMode)
	}
	return info
}

// hexChecksum turns a full-object x-amz-checksum-sha256 (base64) into lower-case
// hex; "" for a composite checksum or one that is not a SHA-256.
func hexChecksum(b64, mode string) string {
	if b64 == "" || strings.Contains(b64, "-") || strings.EqualFold(mode, "COMPOSITE") {
		return ""
	}
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sum) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(sum)
}
