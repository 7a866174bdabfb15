package blob_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/blob/blobtest"
	"github.com/kybflow/kybflow/internal/testenv"
)

var _ blobtest.Store = (*blob.S3)(nil)

// s3Config returns a configuration for a new, unique bucket on srv, created
// by NewS3.
func s3Config(t testing.TB, srv testenv.MinIOServer) blob.S3Config {
	return blob.S3Config{
		Endpoint:     srv.Endpoint,
		Bucket:       testenv.BucketName(t),
		AccessKey:    srv.AccessKey,
		SecretKey:    srv.SecretKey,
		Region:       srv.Region,
		CreateBucket: true,
	}
}

func newS3(t testing.TB, cfg blob.S3Config) *blob.S3 {
	t.Helper()
	s, err := blob.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

// rawClient is a plain minio-go client, to look at what the store wrote.
func rawClient(t testing.TB, srv testenv.MinIOServer) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		Region: srv.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestS3 runs the contract and the S3-specific tests against one MinIO
// server, with a bucket per subtest.
func TestS3(t *testing.T) {
	srv := testenv.MinIO(t)

	t.Run("Contract", func(t *testing.T) {
		blobtest.Run(t, func(t *testing.T) blobtest.Store { return newS3(t, s3Config(t, srv)) })
	})

	t.Run("ObjectOnServer", func(t *testing.T) {
		cfg := s3Config(t, srv)
		s := newS3(t, cfg)
		ctx := t.Context()
		const key = "aml/lk-1/report.pdf"
		for _, content := range []string{"first, longer version", "second"} {
			if _, err := s.Put(ctx, key, strings.NewReader(content), -1, blob.PutOptions{
				ContentType: "application/pdf",
				Metadata:    map[string]string{"lookup-id": "lk-1", "session-id": "s-1"},
			}); err != nil {
				t.Fatal(err)
			}
		}
		raw := rawClient(t, srv)
		var keys []string
		for o := range raw.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			keys = append(keys, o.Key)
		}
		if len(keys) != 1 || keys[0] != key {
			t.Errorf("bucket holds %q after an overwrite, want only %q", keys, key)
		}
		oi, err := raw.StatObject(ctx, cfg.Bucket, key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"Content-Type":          "application/pdf",
			"X-Amz-Meta-Lookup-Id":  "lk-1",
			"X-Amz-Meta-Session-Id": "s-1",
			"X-Amz-Meta-Sha256":     "16367aacb67a4a017c8da8ab95682ccb390863780f7114dda0a0e0c55644c7c4", // sha256("second")
		}
		for h, v := range want {
			if got := oi.Metadata.Get(h); got != v {
				t.Errorf("header %s = %q, want %q", h, got, v)
			}
		}
		var incomplete int
		for u := range raw.ListIncompleteUploads(ctx, cfg.Bucket, "", true) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			incomplete++
		}
		if incomplete != 0 {
			t.Errorf("%d incomplete multipart uploads left", incomplete)
		}
	})

	t.Run("CreateBucket", func(t *testing.T) {
		cfg := s3Config(t, srv)
		cfg.CreateBucket = false
		s := newS3(t, cfg) // no server contact
		err := s.Ping(t.Context())
		if err == nil || blob.IsTransient(err) || !strings.Contains(err.Error(), "NoSuchBucket") && !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("Ping of a missing bucket: err = %v, want a permanent NoSuchBucket", err)
		}
		_, err = s.Put(t.Context(), "k", strings.NewReader("x"), 1, blob.PutOptions{})
		if err == nil || blob.IsTransient(err) {
			t.Errorf("Put into a missing bucket: err = %v, want permanent", err)
		}

		cfg.CreateBucket = true
		for i := range 2 { // creating an existing bucket is fine
			s := newS3(t, cfg)
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("Ping after NewS3 #%d with CreateBucket: %v", i+1, err)
			}
		}
	})

	t.Run("EnsureBucket", func(t *testing.T) {
		cfg := s3Config(t, srv)
		cfg.CreateBucket = false
		s := newS3(t, cfg)
		for i := range 2 { // creates the bucket, then finds it
			if err := s.EnsureBucket(t.Context()); err != nil {
				t.Fatalf("EnsureBucket #%d: %v", i+1, err)
			}
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping after EnsureBucket: %v", err)
		}

		for name, mod := range map[string]func(*blob.S3Config){
			"wrong secret key":   func(c *blob.S3Config) { c.SecretKey = "wrong-" + c.SecretKey },
			"unknown access key": func(c *blob.S3Config) { c.AccessKey = "unknown-" + c.AccessKey },
		} {
			bad := cfg
			mod(&bad)
			if err := newS3(t, bad).EnsureBucket(t.Context()); !errors.Is(err, blob.ErrRefused) {
				t.Errorf("EnsureBucket with a %s: err = %v, want blob.ErrRefused", name, err)
			}
		}

		down := cfg
		down.Endpoint = "127.0.0.1:1" // nothing listens: refused at once, and not for the credentials
		if err := newS3(t, down).EnsureBucket(t.Context()); err == nil || errors.Is(err, blob.ErrRefused) {
			t.Errorf("EnsureBucket with S3 down: err = %v, want an error that is not ErrRefused", err)
		}
	})

	t.Run("SSEWithoutKMS", func(t *testing.T) {
		// This server has no KMS: MinIO refuses SSE-S3, and the error
		// must say so and be permanent.
		cfg := s3Config(t, srv)
		cfg.SSE = true
		s := newS3(t, cfg)
		_, err := s.Put(t.Context(), "k", strings.NewReader("personal data"), -1, blob.PutOptions{})
		if err == nil {
			t.Fatal("Put with SSE on a MinIO without KMS succeeded")
		}
		t.Logf("Put with SSE, no KMS: %v", err)
		if !strings.Contains(err.Error(), "KMS is not configured") || blob.IsTransient(err) {
			t.Errorf("err = %v, want a permanent error saying KMS is not configured", err)
		}
		if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat after refused Put: %v, want ErrNotFound", err)
		}
	})

	t.Run("PartSize", func(t *testing.T) {
		cfg := s3Config(t, srv)
		cfg.PartSize = blob.MinPartSize
		s := newS3(t, cfg)
		const size = 3*blob.MinPartSize + 1 // four parts
		for _, declared := range []int64{size, -1} {
			obj, err := s.Put(t.Context(), "k", blobtest.Data(3, size), declared, blob.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := blobtest.DataSHA256(3, size); obj.SHA256 != want || obj.Size != size {
				t.Errorf("Put = %+v, want size %d sha256 %s", obj, size, want)
			}
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		cfg := s3Config(t, srv)
		cfg.Endpoint = "127.0.0.1:1" // nothing listens there
		cfg.CreateBucket = false
		s := newS3(t, cfg)
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		err := s.Ping(ctx)
		if err == nil || !blob.IsTransient(err) {
			t.Errorf("Ping of an unreachable server: err = %v, want transient", err)
		}
	})
}

// TestS3SSE checks SSE-S3 against a MinIO with a (static) KMS, where it
// works: the object is stored encrypted and reads back in clear.
func TestS3SSE(t *testing.T) {
	srv := testenv.MinIO(t, testenv.WithStaticKMS())
	cfg := s3Config(t, srv)
	cfg.SSE = true
	s := newS3(t, cfg)
	content := bytes.Repeat([]byte("personal data "), 100_000) // 1.4 MB
	for _, declared := range []int64{int64(len(content)), -1} {
		obj, err := s.Put(t.Context(), "aml/k", bytes.NewReader(content), declared, blob.PutOptions{ContentType: "application/pdf"})
		if err != nil {
			t.Fatalf("Put with SSE: %v", err)
		}
		oi, err := rawClient(t, srv).StatObject(t.Context(), cfg.Bucket, "aml/k", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The metadata copy must keep the object encrypted.
		if got := oi.Metadata.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
			t.Errorf("x-amz-server-side-encryption = %q, want AES256", got)
		}
		info, err := s.Stat(t.Context(), "aml/k")
		if err != nil {
			t.Fatal(err)
		}
		if info.SHA256 != obj.SHA256 || info.ContentType != "application/pdf" {
			t.Errorf("Stat = %+v, want sha256 %s", info, obj.SHA256)
		}
	}
}

func TestNewS3Config(t *testing.T) {
	valid := blob.S3Config{Endpoint: "127.0.0.1:9000", Bucket: "b"}
	for _, tc := range []struct {
		name  string
		edit  func(*blob.S3Config)
		field string
	}{
		{"no endpoint", func(c *blob.S3Config) { c.Endpoint = "" }, "Endpoint"},
		{"scheme", func(c *blob.S3Config) { c.Endpoint = "http://127.0.0.1:9000" }, "Endpoint"},
		{"no bucket", func(c *blob.S3Config) { c.Bucket = "" }, "Bucket"},
		{"small part", func(c *blob.S3Config) { c.PartSize = 1 << 20 }, "PartSize"},
		{"huge part", func(c *blob.S3Config) { c.PartSize = 6 << 30 }, "PartSize"},
		{"negative upload memory", func(c *blob.S3Config) { c.UploadMemory = -1 }, "UploadMemory"},
		{"upload memory below a part", func(c *blob.S3Config) { c.UploadMemory = blob.DefaultPartSize - 1 }, "UploadMemory"},
	} {
		cfg := valid
		tc.edit(&cfg)
		_, err := blob.NewS3(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), "S3Config."+tc.field) {
			t.Errorf("%s: err = %v, want one naming S3Config.%s", tc.name, err, tc.field)
		}
	}
	if _, err := blob.NewS3(t.Context(), valid); err != nil {
		t.Errorf("valid config: %v", err)
	}
	secret := valid
	secret.SecretKey = "hunter2-very-secret"
	if s := secret.String(); strings.Contains(s, "hunter2") {
		t.Errorf("String() leaks the secret: %s", s)
	}
	if s := secret.LogValue().String(); strings.Contains(s, "hunter2") {
		t.Errorf("LogValue() leaks the secret: %s", s)
	}
}
