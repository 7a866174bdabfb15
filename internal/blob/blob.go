package blob

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"
)

// Sentinel errors. Every error the stores return that matches one of these
// wraps it, so test with errors.Is.
var (
	// ErrNotFound means the key holds no object (Get, Stat). Delete of a
	// missing key is not an error.
	ErrNotFound = errors.New("blob: not found")

	// ErrInvalidKey means the key breaks the key rules. Keys are non-empty
	// valid UTF-8 of at most 1024 bytes, slash-separated, without a leading
	// or trailing slash, empty segments (a//b), segments starting with a dot
	// (., .., .hidden; Dir keeps its temporary and sidecar files there),
	// backslashes, NUL or other control characters.
	ErrInvalidKey = errors.New("blob: invalid key")

	// ErrInvalidMetadata means PutOptions.Metadata breaks the metadata
	// rules: keys match [a-z0-9-]+ and are not "sha256" (reserved), values
	// are printable ASCII without leading or trailing spaces, and keys plus
	// values take at most 2000 bytes. The rules keep metadata identical
	// across S3 (HTTP headers, 2 KiB on AWS) and Dir.
	ErrInvalidMetadata = errors.New("blob: invalid metadata")

	// ErrSizeMismatch means Put was given a size and the stream was shorter
	// or longer. Nothing is stored and an existing object is left as it was.
	ErrSizeMismatch = errors.New("blob: size mismatch")

	// ErrRefused means the S3 server refused the credentials: an unknown
	// access key (InvalidAccessKeyId), a secret key that is not the access
	// key's (SignatureDoesNotMatch), or a key without the right to do what
	// was asked (AccessDenied). Retrying cannot help; the configuration
	// must change. S3.EnsureBucket and NewS3 with CreateBucket return it.
	ErrRefused = errors.New("blob: credentials refused")
)

// DefaultContentType is stored when PutOptions.ContentType is empty.
const DefaultContentType = "application/octet-stream"

// metaSHA256 is the metadata key under which the hex SHA-256 is stored.
const metaSHA256 = "sha256"

// PutOptions are the attributes stored with an object.
type PutOptions struct {
	// ContentType is the MIME type; DefaultContentType if empty.
	ContentType string
	// Metadata is user metadata such as "lookup-id" and "session-id"; see
	// ErrInvalidMetadata for the rules.
	Metadata map[string]string
	// After, if set, is metadata known only once the body is read (a
	// report's signature): called after its last byte, its keys join
	// Metadata (see ErrInvalidMetadata; a bad one fails the Put). S3 sends
	// it with the object when the body is read before the request (small
	// objects), and otherwise sets it by the conditional copy of the
	// object onto itself that a multipart upload makes for its sha256 (a
	// streamed PUT then makes one too); Dir writes it in the sidecar.
	After func() map[string]string
}

// final is Metadata with After's keys, once the body is read.
func (o PutOptions) final() (map[string]string, error) {
	if o.After == nil {
		return o.Metadata, nil
	}
	out := make(map[string]string, len(o.Metadata)+4)
	maps.Copy(out, o.Metadata)
	maps.Copy(out, o.After())
	if err := validateMetadata(out); err != nil {
		return nil, fmt.Errorf("metadata after the body: %w", err)
	}
	return out, nil
}

func (o PutOptions) contentType() string {
	if o.ContentType == "" {
		return DefaultContentType
	}
	return o.ContentType
}

// Object describes a stored object, as published in the artifact event.
type Object struct {
	Bucket      string // S3: the bucket; Dir: the base name of the root directory (see Dir.Bucket)
	Key         string
	Size        int64
	SHA256      string // lower-case hex
	ContentType string
}

// Info describes an object read back by Get or Stat.
type Info struct {
	Size        int64
	ContentType string
	// SHA256 is the lower-case hex SHA-256 recorded by Put, or "" if the
	// object was not written by a successful Put (see the package doc).
	SHA256 string
	// Metadata is the user metadata given to Put: keys lower-case, without
	// the X-Amz-Meta- prefix, and without the reserved "sha256". Never nil.
	Metadata map[string]string
}

// validateKey returns an error wrapping ErrInvalidKey, naming the key, if
// key breaks the rules documented on ErrInvalidKey.
func validateKey(key string) error {
	invalid := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, why)
	}
	switch {
	case key == "":
		return invalid("empty")
	case len(key) > 1024:
		return invalid("longer than 1024 bytes")
	case !utf8.ValidString(key):
		return invalid("not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return invalid("leading slash")
	case strings.HasSuffix(key, "/"):
		return invalid("trailing slash")
	}
	for _, r := range key {
		switch {
		case r == 0:
			return invalid("contains NUL")
		case r < 0x20 || r == 0x7f:
			return invalid("contains a control character")
		case r == '\\':
			return invalid("contains a backslash")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return invalid("empty path segment")
		case seg == "..":
			return invalid(`".." path segment`)
		case strings.HasPrefix(seg, "."):
			return invalid("path segment starts with a dot")
		}
	}
	return nil
}

// validateMetadata checks md against the rules documented on
// ErrInvalidMetadata.
func validateMetadata(md map[string]string) error {
	total := 0
	for k, v := range md {
		if k == "" || strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return fmt.Errorf("%w: key %q does not match [a-z0-9-]+", ErrInvalidMetadata, k)
		}
		if k == metaSHA256 {
			return fmt.Errorf("%w: key %q is reserved", ErrInvalidMetadata, k)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return fmt.Errorf("%w: value of %q is not printable ASCII", ErrInvalidMetadata, k)
			}
		}
		if strings.TrimSpace(v) != v {
			return fmt.Errorf("%w: value of %q has leading or trailing spaces", ErrInvalidMetadata, k)
		}
		total += len(k) + len(v)
	}
	if total > 2000 {
		return fmt.Errorf("%w: %d bytes, more than 2000", ErrInvalidMetadata, total)
	}
	return nil
}

// transientS3Codes are S3 error codes for conditions that pass.
var transientS3Codes = map[string]bool{
	"InternalError":              true,
	"ServiceUnavailable":         true,
	"SlowDown":                   true,
	"SlowDownRead":               true,
	"SlowDownWrite":              true,
	"RequestTimeout":             true,
	"RequestError":               true,
	"Throttling":                 true,
	"ThrottlingException":        true,
	"RequestLimitExceeded":       true,
	"RequestThrottled":           true,
	"OperationAborted":           true, // conflicting concurrent operation
	"ExpiredToken":               true, // temporary credentials are refreshed
	"XMinioServerNotInitialized": true,
	// The object changed between S3.Put's upload and its metadata copy
	// (a concurrent Put of the same key); the whole Put can be retried.
	minio.PreconditionFailed: true,
}

// IsTransient reports whether retrying the operation that returned err could
// succeed: network errors, timeouts, HTTP 5xx (except 501), 408 and 429, and
// the S3 codes SlowDown, InternalError, ServiceUnavailable and the like.
// Invalid keys or metadata, size mismatches, missing objects or buckets,
// access denied, TLS certificate errors and cancellation by the caller are
// permanent. A nil error is not transient.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case errors.Is(err, ErrInvalidKey), errors.Is(err, ErrInvalidMetadata),
		errors.Is(err, ErrSizeMismatch), errors.Is(err, ErrNotFound),
		errors.Is(err, context.Canceled):
		return false
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		certInvalid      x509.CertificateInvalidError
		hostname         x509.HostnameError
		verify           *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &certInvalid) ||
		errors.As(err, &hostname) || errors.As(err, &verify) {
		return false
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.Code != "" || resp.StatusCode != 0) {
		switch {
		case transientS3Codes[resp.Code]:
			return true
		case resp.StatusCode == http.StatusNotImplemented:
			return false
		case resp.StatusCode >= 500,
			resp.StatusCode == http.StatusRequestTimeout,
			resp.StatusCode == http.StatusTooManyRequests:
			return true
		}
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
