// Package blobtest is the contract that every blob store (blob.S3, blob.Dir)
// must honour, run as one test suite against each, in the manner of
// testing/fstest.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/blob"
)

// Store is the method set shared by blob.S3 and blob.Dir.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error)
	Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error)
	Stat(ctx context.Context, key string) (blob.Info, error)
	Delete(ctx context.Context, key string) error
	Ping(ctx context.Context) error
	Location() string
	Bucket() string
}

// LargeSize is the size of the object that checks that Put streams.
const LargeSize = 64 << 20

// MaxHeapGrowth bounds how much the heap may grow while LargeSize bytes are
// put: the S3 part buffer (16 MiB by default) plus garbage not yet collected,
// far below the object's size. It is a bound on memory, not on time.
const MaxHeapGrowth = 40 << 20

// Run runs the contract. newStore must return a fresh, empty store each time
// it is called (for S3, a new bucket); subtests that call it may run in
// parallel.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("DefaultContentType", func(t *testing.T) { testDefaultContentType(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newStore(t)) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("InvalidKey", func(t *testing.T) { testInvalidKey(t, newStore(t)) })
	t.Run("InvalidMetadata", func(t *testing.T) { testInvalidMetadata(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("Ping", func(t *testing.T) { testPing(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("ConcurrentSameKey", func(t *testing.T) { testConcurrentSameKey(t, newStore(t)) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, newStore(t)) })
	// Last and alone: it measures the heap of the whole process.
	t.Run("Large", func(t *testing.T) { testLarge(t, newStore(t)) })
}

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

func testRoundTrip(t *testing.T, s Store) {
	opts := blob.PutOptions{
		ContentType: "application/pdf",
		Metadata:    map[string]string{"lookup-id": "lk-123", "session-id": "sess-456", "artifact": "report 1"},
	}
	for _, tc := range []struct {
		name    string
		size    int64
		unknown bool // pass -1
	}{
		{"empty", 0, false},
		{"empty unknown size", 0, true},
		{"one byte", 1, false},
		{"small", 100<<10 + 3, false},
		{"small unknown size", 100<<10 + 3, true},
		{"above one S3 part", 17<<20 + 5, false}, // multipart with known size
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "aml/lk-123/" + strings.ReplaceAll(tc.name, " ", "-") + ".pdf"
			seed := uint64(tc.size)
			size := tc.size
			if tc.unknown {
				size = -1
			}
			obj, err := s.Put(t.Context(), key, Data(seed, tc.size), size, opts)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			checkStored(t, s, obj, key, tc.size, DataSHA256(seed, tc.size), opts)
		})
	}
	t.Run("key characters", func(t *testing.T) {
		for _, key := range []string{"a", "x..y", "with space/ünïcode-ключ.json", "deep/er/and/deeper/k"} {
			content := []byte("content of " + key)
			obj, err := s.Put(t.Context(), key, bytes.NewReader(content), int64(len(content)), blob.PutOptions{})
			if err != nil {
				t.Fatalf("Put(%q): %v", key, err)
			}
			checkStored(t, s, obj, key, int64(len(content)), sum(content), blob.PutOptions{})
		}
	})
}

func testDefaultContentType(t *testing.T, s Store) {
	obj, err := s.Put(t.Context(), "k", strings.NewReader("x"), 1, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.ContentType != blob.DefaultContentType {
		t.Errorf("ContentType = %q, want %q", obj.ContentType, blob.DefaultContentType)
	}
	checkStored(t, s, obj, "k", 1, sum([]byte("x")), blob.PutOptions{})
}

func testOverwrite(t *testing.T, s Store) {
	const key = "aml/lk/result.json"
	first := bytes.Repeat([]byte("first version "), 1000)
	second := []byte(`{"second":true}`)
	opts1 := blob.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"lookup-id": "lk", "only-first": "1"}}
	opts2 := blob.PutOptions{ContentType: "application/json", Metadata: map[string]string{"lookup-id": "lk"}}
	if _, err := s.Put(t.Context(), key, bytes.NewReader(first), int64(len(first)), opts1); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Put(t.Context(), key, bytes.NewReader(second), -1, opts2)
	if err != nil {
		t.Fatal(err)
	}
	// The shorter, later content wins whole; the first version's metadata
	// is gone.
	checkStored(t, s, obj, key, int64(len(second)), sum(second), opts2)
	if got := getBytes(t, s, key); !bytes.Equal(got, second) {
		t.Errorf("Get after overwrite = %q, want %q", got, second)
	}
}

func testSizeMismatch(t *testing.T, s Store) {
	const key = "aml/lk/report.pdf"
	old := []byte("old content")
	if _, err := s.Put(t.Context(), key, bytes.NewReader(old), int64(len(old)), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		actual   int64
		declared int64
	}{
		{"shorter", 999, 1000},
		{"longer", 1001, 1000},
		{"empty declared", 1, 0},
		{"nothing", 0, 10},
		{"shorter multipart", 17 << 20, 17<<20 + 1},
		{"negative size", 10, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{key, "new/" + key} {
				_, err := s.Put(t.Context(), k, Data(1, tc.actual), tc.declared, blob.PutOptions{})
				if !errors.Is(err, blob.ErrSizeMismatch) {
					t.Fatalf("Put(%q) of %d bytes declared %d: err = %v, want ErrSizeMismatch", k, tc.actual, tc.declared, err)
				}
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error %q does not name the key", err)
				}
				if blob.IsTransient(err) {
					t.Errorf("IsTransient(%v) = true", err)
				}
			}
			// Nothing stored; the existing object is intact.
			if _, err := s.Stat(t.Context(), "new/"+key); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Stat after failed Put: err = %v, want ErrNotFound", err)
			}
			if got := getBytes(t, s, key); !bytes.Equal(got, old) {
				t.Errorf("existing object = %q, want %q", got, old)
			}
		})
	}
}

func testNotFound(t *testing.T, s Store) {
	if _, err := s.Put(t.Context(), "dir/obj", strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"missing", "dir/missing", "dir", "dir/obj/below", "missing/deeper"} {
		_, err := s.Stat(t.Context(), key)
		if !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q): err = %v, want ErrNotFound", key, err)
		} else if !strings.Contains(err.Error(), key) {
			t.Errorf("Stat(%q): error %q does not name the key", key, err)
		}
		if blob.IsTransient(err) {
			t.Errorf("IsTransient(%v) = true", err)
		}
		rc, _, err := s.Get(t.Context(), key)
		if !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want ErrNotFound", key, err)
		}
		if rc != nil {
			t.Errorf("Get(%q) returned a reader with an error", key)
			rc.Close()
		}
	}
}

// InvalidKeys are keys every store must reject.
var InvalidKeys = []string{
	"", "/abs", "trailing/", "a//b", ".", "..", "../escape", "a/../../escape", "a/..", "./a", "a/./b",
	".hidden", "a/.sidecar.meta.json", "nul\x00byte", "new\nline", `back\slash`, "\xff\xfe",
	strings.Repeat("k", 1025),
}

func testInvalidKey(t *testing.T, s Store) {
	ctx := t.Context()
	for _, key := range InvalidKeys {
		errs := map[string]error{}
		_, errs["Put"] = s.Put(ctx, key, strings.NewReader("x"), 1, blob.PutOptions{})
		_, _, errs["Get"] = s.Get(ctx, key)
		_, errs["Stat"] = s.Stat(ctx, key)
		errs["Delete"] = s.Delete(ctx, key)
		for op, err := range errs {
			if !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("%s(%q): err = %v, want ErrInvalidKey", op, key, err)
				continue
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
				t.Errorf("%s(%q): error %q does not name the key", op, key, err)
			}
			if blob.IsTransient(err) {
				t.Errorf("%s(%q): IsTransient = true", op, key)
			}
		}
	}
}

func testInvalidMetadata(t *testing.T, s Store) {
	for _, md := range []map[string]string{
		{"Lookup-Id": "upper-case key"},
		{"lookup_id": "underscore"},
		{"": "empty key"},
		{"sha256": "reserved"},
		{"k": "new\nline"},
		{"k": "non-ascii ü"},
		{"k": " leading space"},
		{"k": strings.Repeat("v", 2000)},
	} {
		_, err := s.Put(t.Context(), "k", strings.NewReader("x"), 1, blob.PutOptions{Metadata: md})
		if !errors.Is(err, blob.ErrInvalidMetadata) {
			t.Errorf("Put with metadata %q: err = %v, want ErrInvalidMetadata", md, err)
		}
		if blob.IsTransient(err) {
			t.Errorf("IsTransient(%v) = true", err)
		}
	}
	if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after rejected Puts: err = %v, want ErrNotFound", err)
	}
}

func testDelete(t *testing.T, s Store) {
	ctx := t.Context()
	if err := s.Delete(ctx, "never/existed"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if _, err := s.Put(ctx, "d/k", strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "d"); err != nil { // a prefix, not an object
		t.Errorf("Delete of a prefix: %v", err)
	}
	for i := range 2 {
		if err := s.Delete(ctx, "d/k"); err != nil {
			t.Errorf("Delete #%d: %v", i+1, err)
		}
		if _, err := s.Stat(ctx, "d/k"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat after Delete #%d: err = %v, want ErrNotFound", i+1, err)
		}
	}
	// The key can be used again.
	obj, err := s.Put(ctx, "d/k", strings.NewReader("y"), 1, blob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, s, obj, "d/k", 1, sum([]byte("y")), blob.PutOptions{})
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if s.Location() == "" {
		t.Error("Location is empty")
	}
}

func testConcurrent(t *testing.T, s Store) {
	const n = 8
	const size = 300 << 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			declared := int64(size)
			if i%2 == 1 {
				declared = -1
			}
			key := fmt.Sprintf("concurrent/%d", i)
			opts := blob.PutOptions{Metadata: map[string]string{"n": fmt.Sprint(i)}}
			if _, err := s.Put(t.Context(), key, Data(uint64(i), size), declared, opts); err != nil {
				t.Errorf("Put(%q): %v", key, err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		key := fmt.Sprintf("concurrent/%d", i)
		obj := blob.Object{Bucket: s.Bucket(), Key: key, Size: size, SHA256: DataSHA256(uint64(i), size), ContentType: blob.DefaultContentType}
		checkStored(t, s, obj, key, size, obj.SHA256, blob.PutOptions{Metadata: map[string]string{"n": fmt.Sprint(i)}})
	}
}

// testConcurrentSameKey overwrites one key from several goroutines at once
// (a redelivered message handled twice). A Put may fail, but only with a
// transient error, and the object left behind must be one writer's content
// with that writer's hash and metadata.
func testConcurrentSameKey(t *testing.T, s Store) {
	const n = 4
	const size = 200 << 10
	const key = "same/key"
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		oks  int
		hash = map[string]int{}
	)
	for i := range n {
		hash[DataSHA256(uint64(100+i), size)] = i
		wg.Go(func() {
			opts := blob.PutOptions{Metadata: map[string]string{"writer": fmt.Sprint(i)}}
			_, err := s.Put(t.Context(), key, Data(uint64(100+i), size), size, opts)
			switch {
			case err == nil:
				mu.Lock()
				oks++
				mu.Unlock()
			case !blob.IsTransient(err):
				t.Errorf("writer %d: permanent error: %v", i, err)
			default:
				t.Logf("writer %d: transient error: %v", i, err)
			}
		})
	}
	wg.Wait()
	if oks == 0 {
		t.Fatal("no Put succeeded")
	}
	n2, gotSHA, info := getAll(t, s, key)
	writer, ok := hash[gotSHA]
	if !ok || n2 != size {
		t.Fatalf("object is %d bytes with sha256 %s, not one writer's content", n2, gotSHA)
	}
	if info.SHA256 != gotSHA || info.Metadata["writer"] != fmt.Sprint(writer) {
		t.Errorf("content of writer %d, but info %+v", writer, info)
	}
}

// cancelAfter cancels a context once n bytes have been read through it.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func testCancel(t *testing.T, s Store) {
	const key = "cancel/k"
	t.Run("during Put", func(t *testing.T) {
		for _, declared := range []int64{8 << 20, -1} {
			ctx, cancel := context.WithCancel(t.Context())
			src := &cancelAfter{r: Data(7, 8<<20), n: 1 << 20, cancel: cancel}
			_, err := s.Put(ctx, key, src, declared, blob.PutOptions{})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put (size %d) cancelled after 1 MiB: err = %v, want context.Canceled", declared, err)
			}
			if blob.IsTransient(err) {
				t.Errorf("IsTransient(%v) = true", err)
			}
			if _, err := s.Stat(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Stat after cancelled Put: err = %v, want ErrNotFound", err)
			}
		}
	})
	t.Run("before", func(t *testing.T) {
		if _, err := s.Put(t.Context(), key, strings.NewReader("x"), 1, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		errs := map[string]error{}
		_, errs["Put"] = s.Put(ctx, "cancel/other", strings.NewReader("x"), 1, blob.PutOptions{})
		_, _, errs["Get"] = s.Get(ctx, key)
		_, errs["Stat"] = s.Stat(ctx, key)
		errs["Delete"] = s.Delete(ctx, key)
		errs["Ping"] = s.Ping(ctx)
		for op, err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", op, err)
			}
		}
		if _, err := s.Stat(t.Context(), key); err != nil {
			t.Errorf("object gone after a cancelled Delete: %v", err)
		}
	})
	t.Run("during Get", func(t *testing.T) {
		if _, err := s.Put(t.Context(), key, Data(8, 8<<20), 8<<20, blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		_, err = io.Copy(io.Discard, &cancelAfter{r: rc, n: 1 << 20, cancel: cancel})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read of a Get cancelled after 1 MiB: err = %v, want context.Canceled", err)
		}
	})
}

func testLarge(t *testing.T, s Store) {
	const key = "large/report.pdf"
	want := DataSHA256(42, LargeSize)
	for _, declared := range []int64{LargeSize, -1} {
		var obj blob.Object
		var err error
		growth := heapGrowth(func() {
			obj, err = s.Put(t.Context(), key, Data(42, LargeSize), declared, blob.PutOptions{ContentType: "application/pdf"})
		})
		if err != nil {
			t.Fatalf("Put of %d MiB (size %d): %v", LargeSize>>20, declared, err)
		}
		t.Logf("Put of %d MiB (size %d): heap grew by at most %.1f MiB", LargeSize>>20, declared, float64(growth)/(1<<20))
		if growth > MaxHeapGrowth {
			t.Errorf("heap grew by %d MiB during Put of %d MiB (size %d), bound %d MiB: the object is buffered",
				growth>>20, LargeSize>>20, declared, MaxHeapGrowth>>20)
		}
		if obj.Size != LargeSize || obj.SHA256 != want {
			t.Errorf("Put = %+v, want size %d sha256 %s", obj, LargeSize, want)
		}
	}
	var n int64
	var got string
	var info blob.Info
	growth := heapGrowth(func() { n, got, info = getAll(t, s, key) })
	t.Logf("Get of %d MiB: heap grew by at most %.1f MiB", LargeSize>>20, float64(growth)/(1<<20))
	if growth > MaxHeapGrowth {
		t.Errorf("heap grew by %d MiB during Get of %d MiB", growth>>20, LargeSize>>20)
	}
	if n != LargeSize || got != want || info.SHA256 != want || info.Size != LargeSize {
		t.Errorf("Get: %d bytes sha256 %s, info %+v; want %d bytes %s", n, got, info, int64(LargeSize), want)
	}
}

// heapGrowth runs f and returns the peak, sampled every millisecond, of the
// heap's object bytes (live and not yet swept) above its level before f,
// after a collection. Other goroutines of the process count too, so it is
// only meaningful when nothing else runs.
func heapGrowth(f func()) uint64 {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	peak := base
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // owned here: stopped and waited for below
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peak = max(peak, read())
			}
		}
	}()
	f()
	close(stop)
	<-done
	peak = max(peak, read())
	return peak - base
}
