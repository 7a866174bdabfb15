package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/minio/minio-go/v7"

	"github.com/kybflow/kybflow"
)

// ArtifactSource opens the stored object of an artifact: an S3 bucket
// (S3Source) or the worker's local result directory (DirSource).
type ArtifactSource interface {
	Open(ctx context.Context, bucket, key string) (io.ReadCloser, error)
}

// ErrArtifactMismatch is wrapped by FetchArtifact's error when the stored
// object is not the one its event describes (another size or sha256).
var ErrArtifactMismatch = errors.New("stored object does not match its artifact")

// FetchArtifact copies the object of a into w and checks it against the
// artifact's size and SHA-256, as a completed event gives them. On a
// mismatch the error wraps ErrArtifactMismatch, and w has received bytes
// that must not be used: write to a temporary file, and keep it only when
// FetchArtifact returns nil.
func FetchArtifact(ctx context.Context, src ArtifactSource, a kybflow.Artifact, w io.Writer) error {
	rc, err := src.Open(ctx, a.Bucket, a.Key)
	if err != nil {
		return fmt.Errorf("fetch %s (%s/%s): %w", a.Name, a.Bucket, a.Key, err)
	}
	defer rc.Close()
	h := sha256.New()
	// One byte more than the event says, to notice a longer object.
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(rc, a.Size+1))
	if err != nil {
		return fmt.Errorf("fetch %s (%s/%s): %w", a.Name, a.Bucket, a.Key, err)
	}
	if n != a.Size {
		if n > a.Size {
			return fmt.Errorf("fetch %s: %w: more than the %d bytes the event says are stored", a.Name, ErrArtifactMismatch, a.Size)
		}
		return fmt.Errorf("fetch %s: %w: %d bytes stored, the event says %d", a.Name, ErrArtifactMismatch, n, a.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != a.SHA256 {
		return fmt.Errorf("fetch %s: %w: sha256 %s stored, the event says %s", a.Name, ErrArtifactMismatch, sum, a.SHA256)
	}
	return nil
}

// DirSource reads artifacts from the worker's BLOB_DIR: each object is the
// file at its key below dir (the bucket is the directory's name, and is not
// checked).
func DirSource(dir string) ArtifactSource { return dirSource(dir) }

type dirSource string

func (d dirSource) Open(ctx context.Context, _, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(string(d)) // keys cannot leave the directory
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Open(filepath.FromSlash(key))
}

// S3Source reads artifacts from S3 with a minio-go client, from the bucket
// each artifact names. Reads are verified against the object's stored
// checksum too, where S3 has one.
func S3Source(c *minio.Client) ArtifactSource { return s3Source{c} }

type s3Source struct{ c *minio.Client }

func (s s3Source) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	// Checksum mode: minio-go also checks the bytes against the checksum
	// stored with the object (x-amz-checksum-sha256, written by the worker
	// with every single-request upload) when the read reaches the end.
	obj, err := s.c.GetObject(ctx, bucket, key, minio.GetObjectOptions{Checksum: true})
	if err != nil {
		return nil, err
	}
	if _, err := obj.Stat(); err != nil { // GetObject is lazy: surface a missing object here
		obj.Close()
		return nil, err
	}
	return obj, nil
}
