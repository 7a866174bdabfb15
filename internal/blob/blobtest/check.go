// Reading objects back and checking what a store returns for them.

package blobtest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
)

// getAll reads an object back, hashing it as it streams.
func getAll(t *testing.T, s Store, key string) (size int64, sha string, info blob.Info) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), info
}

func getBytes(t *testing.T, s Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

// checkStored checks Put's result and what Stat and Get return against the
// expected size and hash.
func checkStored(t *testing.T, s Store, obj blob.Object, key string, size int64, sha string, opts blob.PutOptions) {
	t.Helper()
	wantCT := opts.ContentType
	if wantCT == "" {
		wantCT = blob.DefaultContentType
	}
	wantObj := blob.Object{Bucket: s.Bucket(), Key: key, Size: size, SHA256: sha, ContentType: wantCT}
	if obj != wantObj {
		t.Errorf("Put(%q) = %+v, want %+v", key, obj, wantObj)
	}
	wantMD := maps.Clone(opts.Metadata)
	if wantMD == nil {
		wantMD = map[string]string{}
	}
	wantInfo := blob.Info{Size: size, ContentType: wantCT, SHA256: sha, Metadata: wantMD}
	checkInfo := func(op string, got blob.Info) {
		t.Helper()
		if got.Size != wantInfo.Size || got.ContentType != wantInfo.ContentType || got.SHA256 != wantInfo.SHA256 ||
			!maps.Equal(got.Metadata, wantInfo.Metadata) || got.Metadata == nil {
			t.Errorf("%s(%q) info = %+v, want %+v", op, key, got, wantInfo)
		}
	}
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	checkInfo("Stat", info)
	n, gotSHA, info := getAll(t, s, key)
	checkInfo("Get", info)
	if n != size || gotSHA != sha {
		t.Errorf("Get(%q) read %d bytes sha256 %s, want %d bytes %s", key, n, gotSHA, size, sha)
	}
}
