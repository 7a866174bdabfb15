package blob

// S3 uploads: one request per object whenever its size is known or it fits
// one part, its SHA-256 going with it; a multipart upload, and one metadata
// copy for the whole object, only for a large object of unknown size,
// through part buffers shared by all uploads of the store (partPool).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// SmallObjectSize is the largest object of unknown size read into memory of
// its own, outside S3Config.UploadMemory, and sent in one PUT: it never
// waits for a part buffer.
const SmallObjectSize = 1 << 20

// maxSinglePut is the largest object S3 takes in one PUT.
const maxSinglePut = 5 << 30

// maxParts is the S3 limit on the parts of a multipart upload.
const maxParts = 10000

// abortTimeout bounds the abort of a failed multipart upload.
const abortTimeout = 10 * time.Second

// Put streams r to key and returns the stored object's description. size is
// the length of r, or -1 if unknown; if it is given and r yields a different
// number of bytes, Put fails with ErrSizeMismatch and stores nothing. An
// existing object under key is replaced. See the package doc for how the
// SHA-256 reaches the object and for the memory used.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Object, error) {
	if err := s.checkPut(key, size, opts); err != nil {
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	src := newHashingReader(ctx, r, size)
	if err := src.failure(); err != nil { // size 0 and a non-empty stream
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	var obj Object
	var err error
	switch {
	case size >= 0 && size <= SmallObjectSize:
		obj, err = s.putSmall(ctx, key, src, size, opts)
	case size > 0 && size <= maxSinglePut:
		obj, err = s.putStreamed(ctx, key, src, size, opts)
	default:
		obj, err = s.putUnknown(ctx, key, src, opts)
	}
	if err != nil {
		return Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	return obj, nil
}

// putStreamed sends an object of known size in one PUT straight from the
// source, the SHA-256 computed on the way and sent as the trailing checksum
// x-amz-checksum-sha256, which the server verifies and stores.
func (s *S3) putStreamed(ctx context.Context, key string, src *hashingReader, size int64, opts PutOptions) (Object, error) {
	// A copy: minio-go adds its checksum headers to the map it is given.
	md := make(map[string]string, len(opts.Metadata)+1)
	maps.Copy(md, opts.Metadata)
	up, err := s.client.PutObject(ctx, s.bucket, key, src, size, s.singlePutOptions(opts, md))
	obj, err := s.uploaded(ctx, key, src, up, err, opts)
	if err != nil || opts.After == nil {
		return obj, err
	}
	final, err := opts.final()
	if err != nil {
		return Object{}, err
	}
	if err := s.stamp(ctx, key, up.ETag, withSHA256(final, obj.SHA256), opts.contentType()); err != nil {
		return Object{}, fmt.Errorf("set the metadata known after the body (object uploaded without it; retry the put): %w", err)
	}
	return obj, nil
}

// putSmall reads a small object of known size whole, into a pooled buffer,
// and sends it with putBuffered.
func (s *S3) putSmall(ctx context.Context, key string, src *hashingReader, size int64, opts PutOptions) (Object, error) {
	buf := getSmallBuffer()
	defer putSmallBuffer(buf)
	buf.Grow(int(size))
	if _, err := io.CopyN(buf, src, size); err != nil {
		return Object{}, err
	}
	return s.putBuffered(ctx, key, buf.Bytes(), src, opts)
}

// putBuffered sends an object read whole into data (src is at its end) in
// one PUT. Its SHA-256 is known before the request, so it is sent as the
// payload hash of the signature and as the x-amz-checksum-sha256 header,
// and stored in the metadata too: no aws-chunked body, no chunk buffer.
func (s *S3) putBuffered(ctx context.Context, key string, data []byte, src *hashingReader, opts PutOptions) (Object, error) {
	sum, err := src.done()
	if err != nil {
		return Object{}, err
	}
	raw, err := hex.DecodeString(sum)
	if err != nil {
		return Object{}, err
	}
	final, err := opts.final()
	if err != nil {
		return Object{}, err
	}
	md := withSHA256(final, sum)
	md[minio.ChecksumSHA256.Key()] = base64.StdEncoding.EncodeToString(raw)
	up, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), "", sum, minio.PutObjectOptions{
		ContentType: opts.contentType(), UserMetadata: md, ServerSideEncryption: s.sse,
		// Not the streaming (aws-chunked) signature, which minio-go would
		// otherwise use over HTTP: the payload hash is sum itself.
		DisableContentSha256: true,
	})
	return s.uploaded(ctx, key, src, up, err, opts)
}

// smallBuffers are reused for small objects: an upload of a few KB then
// allocates next to nothing.
var smallBuffers sync.Pool

func getSmallBuffer() *bytes.Buffer {
	if b, ok := smallBuffers.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func putSmallBuffer(b *bytes.Buffer) {
	if b.Cap() > 2*SmallObjectSize+bytes.MinRead {
		return // grown past what a small object needs: let it go
	}
	b.Reset()
	smallBuffers.Put(b)
}

func (s *S3) singlePutOptions(opts PutOptions, md map[string]string) minio.PutObjectOptions {
	return minio.PutObjectOptions{
		ContentType:          opts.contentType(),
		UserMetadata:         md,
		ServerSideEncryption: s.sse,
		Checksum:             minio.ChecksumSHA256,
		DisableMultipart:     true,
	}
}

// uploaded checks the answer to a single PUT against what was sent.
func (s *S3) uploaded(ctx context.Context, key string, src *hashingReader, up minio.UploadInfo, err error, opts PutOptions) (Object, error) {
	if err != nil {
		if ferr := src.failure(); ferr != nil {
			// The reader failed the upload (source error, size mismatch,
			// cancellation); report that rather than how the HTTP layer
			// relayed it, which may not wrap it.
			err = ferr
		}
		return Object{}, err
	}
	sum, err := src.done()
	switch {
	case err != nil:
	case up.Size != src.n:
		err = fmt.Errorf("server stored %d bytes, sent %d", up.Size, src.n)
	case up.ChecksumSHA256 != "" && hexChecksum(up.ChecksumSHA256, "") != sum:
		err = fmt.Errorf("server answered checksum %s for sha256 %s", up.ChecksumSHA256, sum)
	}
	if err != nil {
		// Not expected (the reader fails the upload first); never leave
		// a wrong object behind a failed Put.
		_ = s.client.RemoveObject(context.WithoutCancel(ctx), s.bucket, key, minio.RemoveObjectOptions{})
		return Object{}, err
	}
	return Object{Bucket: s.bucket, Key: key, Size: src.n, SHA256: sum, ContentType: opts.contentType()}, nil
}

// putUnknown stores an object of unknown size: read whole when small (no
// budget), into a shared part buffer when larger; one PUT if it fits that
// buffer, a multipart upload otherwise.
func (s *S3) putUnknown(ctx context.Context, key string, src *hashingReader, opts PutOptions) (Object, error) {
	head := getSmallBuffer()
	defer putSmallBuffer(head)
	n, err := io.CopyN(head, src, SmallObjectSize+1)
	if err != nil && !errors.Is(err, io.EOF) {
		return Object{}, err
	}
	if n <= SmallObjectSize {
		return s.putBuffered(ctx, key, head.Bytes(), src, opts)
	}
	buf, err := s.parts.get(ctx)
	if err != nil {
		return Object{}, fmt.Errorf("wait for upload memory: %w", err)
	}
	defer s.parts.put(buf)
	filled := copy(buf, head.Bytes())
	m, err := io.ReadFull(src, buf[filled:])
	filled += m
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return s.putBuffered(ctx, key, buf[:filled], src, opts)
	case err != nil:
		return Object{}, err
	}
	return s.putMultipart(ctx, key, buf, src, opts)
}

// putMultipart uploads buf (full) and the rest of src part by part through
// buf, then stamps the SHA-256 on the object with one conditional copy
// onto itself (S3 takes metadata only before the body; see the package
// doc).
func (s *S3) putMultipart(ctx context.Context, key string, buf []byte, src *hashingReader, opts PutOptions) (obj Object, err error) {
	ct := opts.contentType()
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{
		ContentType: ct, UserMetadata: opts.Metadata, ServerSideEncryption: s.sse,
	})
	if err != nil {
		return Object{}, err
	}
	completed := false
	defer func() {
		if !completed {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			_ = s.core.AbortMultipartUpload(actx, s.bucket, key, uploadID)
			cancel()
		}
	}()
	var parts []minio.CompletePart
	n := len(buf)
	for number := 1; ; number++ {
		if number > maxParts {
			return Object{}, fmt.Errorf("more than %d parts of %d bytes", maxParts, len(buf))
		}
		p, err := s.core.PutObjectPart(ctx, s.bucket, key, uploadID, number, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{SSE: s.sse})
		if err != nil {
			return Object{}, fmt.Errorf("part %d: %w", number, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: number, ETag: p.ETag})
		if n < len(buf) {
			break // the last part, short
		}
		n, err = io.ReadFull(src, buf)
		if errors.Is(err, io.EOF) {
			break // the last part was full
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return Object{}, err
		}
	}
	sum, err := src.done()
	if err != nil {
		return Object{}, err
	}
	up, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, parts, minio.PutObjectOptions{})
	if err != nil {
		return Object{}, fmt.Errorf("complete: %w", err)
	}
	completed = true
	final, err := opts.final()
	if err != nil {
		return Object{}, err
	}
	if err := s.stamp(ctx, key, up.ETag, withSHA256(final, sum), ct); err != nil {
		return Object{}, fmt.Errorf("set sha256 metadata (object uploaded without it; retry the put): %w", err)
	}
	return Object{Bucket: s.bucket, Key: key, Size: src.n, SHA256: sum, ContentType: ct}, nil
}

// stamp replaces the metadata of the object just uploaded under key with
// md, by a copy onto itself conditional on the upload's ETag: if another
// writer overwrote the key in between, it fails rather than stamp
// metadata on someone else's bytes.
func (s *S3) stamp(ctx context.Context, key, etag string, md map[string]string, ct string) error {
	_, err := s.client.CopyObject(ctx, minio.CopyDestOptions{
		Bucket:          s.bucket,
		Object:          key,
		ReplaceMetadata: true,
		UserMetadata:    md,
		ContentType:     ct,
		Encryption:      s.sse,
	}, minio.CopySrcOptions{
		Bucket:    s.bucket,
		Object:    key,
		MatchETag: etag,
	})
	return err
}

// withSHA256 is md plus the reserved sha256 key.
func withSHA256(md map[string]string, sum string) map[string]string {
	out := make(map[string]string, len(md)+1)
	maps.Copy(out, md)
	out[metaSHA256] = sum
	return out
}

// partPool is the upload memory budget: at most n part buffers exist, made
// when first needed and reused; an upload that needs one waits for one.
type partPool struct {
	size int64
	free chan []byte // n slots, nil until a buffer is made
}

func newPartPool(size int64, n int) *partPool {
	p := &partPool{size: size, free: make(chan []byte, n)}
	for range n {
		p.free <- nil
	}
	return p
}

func (p *partPool) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		if b == nil {
			b = make([]byte, p.size)
		}
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *partPool) put(b []byte) { p.free <- b }
