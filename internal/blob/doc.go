// Package blob stores the artifacts of an AML lookup (the JSON result and the
// signed PDF reports) in S3-compatible storage (S3) or in a local directory
// (Dir), streaming them and computing their SHA-256 on the way.
//
// S3 and Dir are concrete types with the same method set:
//
//	Put(ctx, key, r, size, PutOptions) (Object, error)
//	Get(ctx, key) (io.ReadCloser, Info, error)
//	Stat(ctx, key) (Info, error)
//	Delete(ctx, key) error
//	ErasePrefix(ctx, prefix, keys) (Erased, error) // everything under prefix, for an erasure (erase.go)
//	Ping(ctx) error
//	Location() string // bucket, or the directory's absolute path
//	Bucket() string   // Object.Bucket: the bucket, or the directory's base name
//
// There is no Store interface here: a consumer declares the one it needs
// (usually Put alone), and package blobtest checks that both types honour
// the same contract.
//
// # Keys
//
// Keys are slash-separated relative paths, chosen by the caller and
// deterministic per lookup and artifact, so a retried Put overwrites rather
// than duplicates. See ErrInvalidKey for the rules; they are the same for
// both stores, so a key that works in development works in production.
//
// # Integrity
//
// Put hashes the stream while it uploads it and never holds the whole object
// in memory (except a small one, below). The hex SHA-256 is returned in
// Object and stored with the object (S3: see below; Dir: the sidecar), next
// to the content type and the caller's metadata. When the caller gives the
// size, a stream of any other length fails the Put and stores nothing.
//
// # S3: one request per object
//
// S3 takes metadata only before the body, but the SHA-256 is known only
// after it. S3.Put therefore sends it as an additional checksum
// (x-amz-checksum-sha256), which MinIO and AWS S3 verify against the body
// and store with the object:
//
//   - Size known, larger (up to 5 GiB): one PUT streamed from the reader,
//     the checksum sent as a trailer of the aws-chunked body. No part
//     buffer.
//   - Small (up to SmallObjectSize, 1 MiB), size known or not: read whole
//     into a pooled buffer and sent in one PUT whose SHA-256, known before
//     the request, is the signature's payload hash, the checksum header and
//     the "sha256" metadata (no aws-chunked body: cheaper for both sides).
//   - Size unknown: the first SmallObjectSize+1 bytes are read into memory
//     of the Put's own; an object that ends there is a small one. A larger one
//     takes a part buffer (PartSize bytes) from the store's upload budget
//     (UploadMemory, shared by every Put of the store; waiting for a buffer
//     if all are taken); if it ends within the buffer it still goes out in
//     one PUT, otherwise as a multipart upload, part after part through the
//     one buffer, followed by one server-side copy of the object onto itself
//     that adds "sha256" to its metadata (a multipart upload's checksum is a
//     checksum of the parts' checksums, not the object's SHA-256). The copy
//     is conditional on the ETag of the upload, so if another writer
//     overwrote the key in between, the Put fails rather than stamping a
//     hash on someone else's bytes; if it fails, the object exists without
//     a sha256 until the caller retries the whole Put, which is safe since
//     it overwrites.
//
// Stat and Get ask for the stored checksum (x-amz-checksum-mode: ENABLED)
// and report Info.SHA256 from the "sha256" metadata, or else from the
// full-object checksum; Get also lets minio-go verify a whole read against
// that checksum. Objects written by earlier versions (an upload, then a
// copy) carry the metadata and read back the same way.
//
// Memory: about 64 KiB per Put of known size (the signing chunk) plus HTTP
// buffers; up to SmallObjectSize for a small Put of unknown size; and for
// large ones of unknown size, UploadMemory in all (default 32 MiB, four
// parts of the default 8 MiB), whatever the number of concurrent Puts. The
// buffers, once made, are kept for reuse. A multipart upload interrupted
// by cancellation is aborted; if even that fails it may leave incomplete
// parts (not an object): configure the bucket's lifecycle rule
// AbortIncompleteMultipartUpload (MinIO removes stale uploads by itself).
//
// # S3: encryption
//
// These objects hold personal data. S3Config.SSE requests SSE-S3
// (x-amz-server-side-encryption: AES256) on the upload and on the metadata
// copy of a multipart upload. It is off by default because the server must support it: MinIO
// needs a KMS (for development, MINIO_KMS_SECRET_KEY) and otherwise rejects
// every Put with 501 NotImplemented "Server side encryption specified but KMS
// is not configured", which IsTransient reports as permanent. Bucket default
// encryption, configured on the server, is the alternative that needs no
// client setting.
//
// # Dir
//
// Dir writes each object to a temporary file in the destination directory,
// fsyncs it, and renames it onto the key, so a crash never leaves a partial
// object under a key. The content type, SHA-256, size and metadata live in a
// hidden sidecar file ".<name>.meta.json" next to the object, renamed into
// place before the object itself (an object is never visible without its
// sidecar; after a crash in the middle of an overwrite the sidecar may be
// newer than the object until the Put is retried, and Info.SHA256 is empty
// when the sizes disagree). Within one process a per-key lock keeps an
// object and its sidecar matched under concurrent Puts of the same key;
// several processes sharing a directory and writing the same key at once
// are not coordinated. Files are created 0600 and directories 0700. All
// access goes through os.Root, so no key, and no symbolic link planted in
// the directory, can reach outside it. Location is the directory's absolute
// path; Object.Bucket is its base name (Dir.Bucket), since a reader of an
// event on another machine knows its own mount of the directory, not the
// writer's path. A key cannot be both an object and a "directory" of other
// keys (a and a/b), unlike in S3; Put reports the conflict as an error.
// Delete leaves empty directories behind.
//
// # Errors
//
// Errors name the operation and the key ("put aml/1/report.pdf: ..."). A
// missing object is ErrNotFound; IsTransient says whether retrying can help.
package blob
