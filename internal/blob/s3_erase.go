package blob

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
)

// ErasePrefix removes everything the bucket holds under prefix (a key
// followed by a slash, e.g. "lookups/x/"), for an erasure: the incomplete
// multipart uploads first (so that none completes into an object after the
// objects are gone), then every version of every object and every delete
// marker, each by its version id, so that a versioned bucket keeps no
// version a reader with s3:GetObjectVersion could fetch. A bucket without
// versioning lists each object once, as version "null".
//
// Listing the uploads under a prefix is where servers differ: S3 lists them
// by prefix, MinIO only those of one exact key, or, without a prefix, the
// uploads it has begun since it started. ErasePrefix therefore asks three
// ways and keeps what is under prefix: without a prefix, with the prefix,
// and for each key of the objects found and of keys, the caller's list of
// keys an upload may have been begun at (the lookup's known artifact keys).
// An upload on MinIO at a key of neither kind, begun before the server last
// restarted, is not found (MinIO removes stale uploads itself after a day).
//
// A failure stops the erasure; what was removed until then is returned
// with the error. Erasing a prefix twice removes nothing the second time.
func (s *S3) ErasePrefix(ctx context.Context, prefix string, keys []string) (Erased, error) {
	var e Erased
	if err := validatePrefix(prefix); err != nil {
		return e, fmt.Errorf("erase %s: %w", prefix, err)
	}
	versions, err := s.versions(ctx, prefix)
	if err != nil {
		return e, fmt.Errorf("erase %s: list versions: %w", prefix, err)
	}
	hints := slices.Clone(keys)
	for _, v := range versions {
		hints = append(hints, v.Key)
	}
	uploads, err := s.uploads(ctx, prefix, underPrefix(prefix, hints))
	if err != nil {
		return e, fmt.Errorf("erase %s: list incomplete uploads: %w", prefix, err)
	}
	for _, u := range uploads {
		err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID)
		if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchUpload { // else: completed or aborted meanwhile
			return e, fmt.Errorf("erase %s: abort upload of %s: %w", prefix, u.Key, err)
		}
		e.Uploads++
	}
	for _, v := range versions {
		err := s.client.RemoveObject(ctx, s.bucket, v.Key, minio.RemoveObjectOptions{VersionID: v.VersionID})
		if err != nil && !gone(err) {
			return e, fmt.Errorf("erase %s: delete %s version %s: %w", prefix, v.Key, v.VersionID, err)
		}
		if v.IsLatest && !v.IsDeleteMarker {
			e.Objects = append(e.Objects, v.Key)
		} else {
			e.Versions++
		}
	}
	slices.Sort(e.Objects)
	return e, nil
}

// gone reports an error of a delete whose object or version is not there
// (deleted meanwhile).
func gone(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == minio.NoSuchKey || code == minio.NoSuchVersion
}

// versions lists every version and delete marker under prefix.
func (s *S3) versions(ctx context.Context, prefix string) ([]minio.ObjectInfo, error) {
	var out []minio.ObjectInfo
	for v := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if v.Err != nil {
			return nil, v.Err
		}
		out = append(out, v)
	}
	return out, nil
}

// uploads lists the incomplete multipart uploads under prefix: those the
// server lists without a prefix and with it, and those of each of keys.
func (s *S3) uploads(ctx context.Context, prefix string, keys []string) ([]minio.ObjectMultipartInfo, error) {
	var out []minio.ObjectMultipartInfo
	for _, p := range append([]string{"", prefix}, keys...) {
		for u := range s.client.ListIncompleteUploads(ctx, s.bucket, p, true) {
			if u.Err != nil {
				return nil, u.Err
			}
			seen := slices.ContainsFunc(out, func(x minio.ObjectMultipartInfo) bool { return x.UploadID == u.UploadID })
			if strings.HasPrefix(u.Key, prefix) && !seen {
				out = append(out, u)
			}
		}
	}
	return out, nil
}
