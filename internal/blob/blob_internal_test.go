package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/minio/minio-go/v7"
)

func TestIsTransient(t *testing.T) {
	s3err := func(code string, status int) error {
		return fmt.Errorf("put k: %w", minio.ErrorResponse{Code: code, StatusCode: status, Message: code})
	}
	urlErr := func(err error) error { return &url.Error{Op: "Put", URL: "http://127.0.0.1:9000/b/k", Err: err} }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"SlowDown", s3err("SlowDown", 503), true},
		{"InternalError", s3err("InternalError", 500), true},
		{"ServiceUnavailable", s3err("ServiceUnavailable", 503), true},
		{"RequestTimeout", s3err("RequestTimeout", 400), true},
		{"bare 502", s3err("", 502), true},
		{"429", s3err("TooManyRequests", 429), true},
		{"PreconditionFailed (concurrent put)", s3err(minio.PreconditionFailed, 412), true},
		{"AccessDenied", s3err("AccessDenied", 403), false},
		{"NoSuchBucket", s3err("NoSuchBucket", 404), false},
		{"InvalidAccessKeyId", s3err("InvalidAccessKeyId", 403), false},
		{"NotImplemented (no KMS)", s3err("NotImplemented", 501), false},
		{"invalid key", fmt.Errorf("put x: %w", ErrInvalidKey), false},
		{"invalid metadata", ErrInvalidMetadata, false},
		{"size mismatch", fmt.Errorf("put x: %w", ErrSizeMismatch), false},
		{"not found", fmt.Errorf("get x: %w: %w", ErrNotFound, s3err("NoSuchKey", 404)), false},
		{"cancelled", fmt.Errorf("put x: %w", urlErr(context.Canceled)), false},
		{"deadline", fmt.Errorf("put x: %w", urlErr(context.DeadlineExceeded)), true},
		{"connection refused", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"source truncated", &sourceError{io.ErrUnexpectedEOF}, true},
		{"bad certificate", urlErr(x509.UnknownAuthorityError{}), false},
		{"permission", fmt.Errorf("put x: %w", os.ErrPermission), false},
		{"other", errors.New("boom"), false},
	} {
		if got := IsTransient(tc.err); got != tc.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestValidateKey(t *testing.T) {
	for _, key := range []string{"a", "aml/lookup-1/report.pdf", "x..y", "a.b/c.", "ü/ключ", "with space", strings.Repeat("k", 1024)} {
		if err := validateKey(key); err != nil {
			t.Errorf("validateKey(%q) = %v, want nil", key, err)
		}
	}
}

// FuzzValidateKey checks that every accepted key is a clean, local path
// that can neither leave the root nor collide with Dir's hidden files.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../a", "a/../b", "/a", "a//b", ".a", "a/.b.meta.json", "a\x00", `a\..\b`, "x..y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if validateKey(key) != nil {
			return
		}
		if !filepath.IsLocal(key) || path.Clean(key) != key || strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("accepted key %q is not a clean local path", key)
		}
		name, meta := paths(key)
		if filepath.Base(name)[0] == '.' || filepath.Base(meta)[0] != '.' || name == meta {
			t.Fatalf("key %q: object %q and sidecar %q may collide", key, name, meta)
		}
	})
}

// TestHashingReader runs the reader under readers that split, delay and
// combine their results, and consumers that read to EOF or stop at the
// declared size as HTTP and minio-go's part buffers do.
func TestHashingReader(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	wrappers := map[string]func(io.Reader) io.Reader{
		"plain":      func(r io.Reader) io.Reader { return r },
		"one byte":   iotest.OneByteReader,
		"half":       iotest.HalfReader,
		"data+EOF":   iotest.DataErrReader,
		"zero reads": func(r io.Reader) io.Reader { return &zeroReads{r: r} },
	}
	want := sha256.Sum256(data)
	for name, wrap := range wrappers {
		for _, declared := range []int64{int64(len(data)), -1, int64(len(data)) - 1, int64(len(data)) + 1} {
			ok := declared == int64(len(data)) || declared == -1
			// To EOF.
			r := newHashingReader(context.Background(), wrap(bytes.NewReader(data)), declared)
			_, err := io.ReadAll(r)
			sum, derr := r.done()
			if ok && (err != nil || derr != nil || sum != hex.EncodeToString(want[:])) {
				t.Errorf("%s, size %d: ReadAll err %v, done %q %v", name, declared, err, sum, derr)
			}
			if !ok && (err == nil || derr == nil) {
				t.Errorf("%s, size %d: no error (ReadAll %v, done %v)", name, declared, err, derr)
			}
			if declared == int64(len(data))+1 && !errors.Is(err, ErrSizeMismatch) {
				t.Errorf("%s, size %d: err %v, want ErrSizeMismatch", name, declared, err)
			}
			// Stopping at the declared size: a long stream must fail
			// before the consumer has its declared bytes.
			if declared >= 0 {
				r := newHashingReader(context.Background(), wrap(bytes.NewReader(data)), declared)
				_, err := io.ReadFull(r, make([]byte, declared))
				if ok != (err == nil) {
					t.Errorf("%s, size %d: ReadFull of the declared size: err %v, want error: %v", name, declared, err, !ok)
				}
			}
		}
	}
	t.Run("empty declared, data", func(t *testing.T) {
		r := newHashingReader(context.Background(), strings.NewReader("x"), 0)
		if !errors.Is(r.failure(), ErrSizeMismatch) {
			t.Errorf("failure() = %v, want ErrSizeMismatch before any Read", r.failure())
		}
	})
	t.Run("source error", func(t *testing.T) {
		boom := errors.New("boom")
		r := newHashingReader(context.Background(), iotest.ErrReader(boom), -1)
		_, err := io.ReadAll(r)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "read source") {
			t.Errorf("err = %v, want read source: boom", err)
		}
	})
}

// zeroReads returns (0, nil) before every real read.
type zeroReads struct {
	r    io.Reader
	flip bool
}

func (z *zeroReads) Read(p []byte) (int, error) {
	z.flip = !z.flip
	if z.flip {
		return 0, nil
	}
	return z.r.Read(p)
}
