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
// in memory. The hex SHA-256 is returned in Object and stored with the
// object (S3: user metadata "sha256"; Dir: the sidecar), next to the content
// type and the caller's metadata. When the caller gives the size, a stream
// of any other length fails the Put and stores nothing.
//
// # S3: setting the SHA-256 after the upload
//
// S3 wants metadata before the body, but the SHA-256 is known only after it.
// S3.Put therefore uploads the object (its metadata without sha256), then
// copies it server-side onto itself with the metadata directive REPLACE,
// adding sha256 and repeating the content type and the caller's metadata.
// The copy is conditional on the ETag of the upload, so if another writer
// overwrote the key in between, the Put fails rather than stamping a hash on
// someone else's bytes. For MinIO and AWS S3 a copy onto itself rewrites only
// the metadata. Between the two steps, and if the copy fails, the object
// exists without a sha256 (Info.SHA256 == ""); Put then returns an error,
// and the caller retries the whole Put, which is safe because it overwrites.
// A single CopyObject is limited to 5 GiB, far above our ~100 MB artifacts.
//
// Memory per S3 upload: objects whose size is given and is at most
// S3Config.PartSize go out as a single PUT streamed from the reader (no part
// buffer). Larger objects, and every object of unknown size (-1), go out as a
// multipart upload through one part buffer of PartSize bytes (default
// 16 MiB): NumThreads is 1 and the reader is neither an io.ReaderAt nor used
// with ConcurrentStreamParts, so minio-go fills and sends one part at a time.
// The bound is therefore about PartSize per concurrent Put, plus small HTTP
// buffers. A multipart upload interrupted by cancellation may leave
// incomplete parts (not an object); configure the bucket's lifecycle rule
// AbortIncompleteMultipartUpload (MinIO removes stale uploads by itself).
//
// # S3: encryption
//
// These objects hold personal data. S3Config.SSE requests SSE-S3
// (x-amz-server-side-encryption: AES256) on the upload and on the metadata
// copy. It is off by default because the server must support it: MinIO
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
