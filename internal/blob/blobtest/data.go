// The deterministic test data that cases put, and its hashes.

package blobtest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
)

// Data returns a deterministic, incompressible stream of n bytes (n < 0:
// endless) that is generated as it is read.
func Data(seed uint64, n int64) io.Reader {
	var seedBytes [32]byte
	for i := range 8 {
		seedBytes[i] = byte(seed >> (8 * i))
	}
	r := io.Reader(rand.NewChaCha8(seedBytes))
	if n >= 0 {
		r = io.LimitReader(r, n)
	}
	return onlyReader{r}
}

// onlyReader hides any method but Read (a ChaCha8 is also a Writer...).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// DataSHA256 returns the hex SHA-256 of Data(seed, n), n >= 0.
func DataSHA256(seed uint64, n int64) string {
	h := sha256.New()
	if _, err := io.Copy(h, Data(seed, n)); err != nil {
		panic(err) // Data cannot fail
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
