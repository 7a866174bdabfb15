package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// sourceError marks an error returned by the caller's reader, so that Put
// can say so ("read source: ...") however deep the upload code returned it.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "read source: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// hashingReader passes the caller's stream through, hashing and counting it,
// stopping on cancellation of ctx, and enforcing the declared size: a short
// stream ends in ErrSizeMismatch instead of io.EOF, and before the last
// declared bytes are delivered the source is checked to be at EOF; if it is
// not, those bytes are withheld and the Read fails. So an uploader that stops
// reading at the declared length (an HTTP request with Content-Length, a
// part filled with io.ReadFull) never gets a complete body from a stream
// that is too long, and fails instead of committing the object.
//
// It deliberately has only a Read method: minio-go reads an io.ReaderAt with
// ReadAt, which would bypass the hash.
type hashingReader struct {
	ctx  context.Context
	src  io.Reader
	size int64 // declared size, -1 if unknown
	n    int64 // bytes delivered
	h    hash.Hash
	eof  bool  // the source reported io.EOF
	err  error // sticky error
}

func newHashingReader(ctx context.Context, src io.Reader, size int64) *hashingReader {
	r := &hashingReader{ctx: ctx, src: src, size: size, h: sha256.New()}
	if size == 0 {
		// An empty body may never be read at all.
		r.err = r.checkEOF()
	}
	return r
}

func (r *hashingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return 0, err
	}
	if r.size >= 0 {
		if r.n == r.size {
			// Reached only when the size check already passed.
			return 0, io.EOF
		}
		if rem := r.size - r.n; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	n, err := r.src.Read(p)
	r.n += int64(n)
	r.h.Write(p[:n])
	switch {
	case err == io.EOF:
		r.eof = true
		if r.size >= 0 && r.n < r.size {
			r.err = fmt.Errorf("%w: stream ended after %d bytes, declared size %d", ErrSizeMismatch, r.n, r.size)
		} else {
			r.err = io.EOF
		}
	case err != nil:
		r.err = &sourceError{err}
	case r.size >= 0 && r.n == r.size:
		if cerr := r.checkEOF(); cerr != nil {
			// Withhold the last bytes: a consumer that knows the size
			// and reads with io.ReadFull would drop an error that comes
			// with the bytes that complete its buffer.
			r.err = cerr
			return 0, cerr
		}
		r.err = io.EOF
	}
	if r.err == io.EOF && n > 0 { //nolint:errorlint // r.err is our own state, io.EOF itself once the source reported it
		return n, nil // let the caller see EOF on the next call, as most readers do
	}
	return n, r.err
}

// checkEOF reads from the source once the declared size has been delivered
// and returns ErrSizeMismatch if there is more.
func (r *hashingReader) checkEOF() error {
	var b [1]byte
	for range 100 { // tolerate readers that return 0, nil a few times
		n, err := r.src.Read(b[:])
		if n > 0 {
			return fmt.Errorf("%w: stream longer than declared size %d", ErrSizeMismatch, r.size)
		}
		if errors.Is(err, io.EOF) {
			r.eof = true
			return nil
		}
		if err != nil {
			return &sourceError{err}
		}
	}
	return &sourceError{io.ErrNoProgress}
}

// failure returns the error the reader returned, if any, other than io.EOF.
func (r *hashingReader) failure() error {
	if r.err == io.EOF { //nolint:errorlint // our own state (see Read): a source error wrapping EOF is a failure
		return nil
	}
	return r.err
}

// done returns the hex SHA-256 of the stream, or an error if the stream was
// not consumed to its end or broke the declared size.
func (r *hashingReader) done() (string, error) {
	if r.err != nil && r.err != io.EOF { //nolint:errorlint // our own state (see Read): a source error wrapping EOF is a failure
		return "", r.err
	}
	if !r.eof {
		return "", fmt.Errorf("stream not read to its end (%d bytes read)", r.n)
	}
	return hex.EncodeToString(r.h.Sum(nil)), nil
}
