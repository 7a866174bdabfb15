package blob_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestS3ErasePrefixVersioned erases a prefix of a bucket with versioning:
// every version and delete marker goes, and every incomplete multipart
// upload under the prefix (at a key known to the caller or not); what is
// beside the prefix stays, versions included.
func TestS3ErasePrefixVersioned(t *testing.T) {
	srv := testenv.MinIO(t)
	cfg := s3Config(t, srv)
	s := newS3(t, cfg)
	raw := rawClient(t, srv)
	ctx := t.Context()
	if err := raw.EnableVersioning(ctx, cfg.Bucket); err != nil {
		t.Fatal(err)
	}
	put := func(key, content string) {
		t.Helper()
		if _, err := s.Put(ctx, key, strings.NewReader(content), int64(len(content)), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Under the prefix: an object with an older version, one deleted (a
	// delete marker over its version), and two uploads never completed.
	put("lk/a/json.json", "first")
	put("lk/a/json.json", "second")
	put("lk/a/report-aml.pdf", "report")
	if err := s.Delete(ctx, "lk/a/report-aml.pdf"); err != nil {
		t.Fatal(err)
	}
	core := minio.Core{Client: raw}
	upload := func(key string) string {
		t.Helper()
		id, err := core.NewMultipartUpload(ctx, cfg.Bucket, key, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := core.PutObjectPart(ctx, cfg.Bucket, key, id, 1, bytes.NewReader([]byte("part")), 4, minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	upload("lk/a/report-certificate.pdf") // a key the caller knows
	upload("lk/a/report-new_type.pdf")    // one it does not
	// Beside it: versions and an upload that must stay.
	put("lk/ab/json.json", "first")
	put("lk/ab/json.json", "second")
	keep := upload("lk/ab/report-aml.pdf")

	// A prefix whose only object is deleted keeps a version and a delete
	// marker: Prefixes lists it, for ErasePrefix to erase.
	put("lk/gone/json.json", "gone")
	if err := s.Delete(ctx, "lk/gone/json.json"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Prefixes(ctx, "lk/", ""); err != nil || !slices.Equal(got, []string{"lk/a/", "lk/ab/", "lk/gone/"}) {
		t.Errorf("Prefixes(lk/) = %q, %v; want lk/a/, lk/ab/ and lk/gone/ (its versions only)", got, err)
	}

	e, err := s.ErasePrefix(ctx, "lk/a/", []string{"lk/a/report-certificate.pdf", "lk/ab/report-aml.pdf"})
	if err != nil || !slices.Equal(e.Objects, []string{"lk/a/json.json"}) || e.Versions != 3 || e.Uploads != 2 {
		t.Fatalf("ErasePrefix = %+v, %v; want the current json.json, 3 other versions and delete markers, 2 uploads", e, err)
	}
	for v := range raw.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: "lk/a/", Recursive: true, WithVersions: true}) {
		t.Errorf("left under the prefix: %s version %s (delete marker %t, err %v)", v.Key, v.VersionID, v.IsDeleteMarker, v.Err)
	}
	var uploads []string
	for u := range raw.ListIncompleteUploads(ctx, cfg.Bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		uploads = append(uploads, u.Key+" "+u.UploadID)
	}
	if !slices.Equal(uploads, []string{"lk/ab/report-aml.pdf " + keep}) {
		t.Errorf("incomplete uploads left: %q, want only the one beside the prefix", uploads)
	}
	n := 0
	for v := range raw.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: "lk/ab/", Recursive: true, WithVersions: true}) {
		if v.Err != nil {
			t.Fatal(v.Err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d versions left beside the prefix, want its 2", n)
	}
	if e, err := s.ErasePrefix(ctx, "lk/a/", nil); err != nil || !e.Empty() {
		t.Errorf("second ErasePrefix = %+v, %v; want nothing removed", e, err)
	}
}
