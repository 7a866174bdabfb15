package blob_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/blob/blobtest"
	"github.com/kybflow/kybflow/internal/testenv"
)

// countingProxy forwards to MinIO and counts the requests that change
// objects (every method but GET and HEAD), by kind.
type countingProxy struct {
	mu    sync.Mutex
	kinds []string
}

func (p *countingProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.kinds
	p.kinds = nil
	return out
}

func newCountingProxy(t *testing.T, srv testenv.MinIOServer) (*countingProxy, string) {
	t.Helper()
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // the signature covers the host the client saw
	}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			q := r.URL.Query()
			kind := r.Method + " object"
			switch {
			case q.Has("uploads"):
				kind = "initiate multipart"
			case q.Has("partNumber"):
				kind = "PUT part"
			case q.Has("uploadId") && r.Method == http.MethodPost:
				kind = "complete multipart"
			case r.Header.Get("X-Amz-Copy-Source") != "":
				kind = "copy"
			}
			p.mu.Lock()
			p.kinds = append(p.kinds, kind)
			p.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return p, strings.TrimPrefix(ts.URL, "http://")
}

// TestS3RequestsPerPut counts the requests of one Put: one for every
// object of known size and for every object of unknown size that fits a
// part, and for a larger one of unknown size the multipart upload's own
// plus one (the copy that stamps the SHA-256). The SHA-256 reads back
// through Stat in every case.
func TestS3RequestsPerPut(t *testing.T) {
	srv := testenv.MinIO(t)
	proxy, endpoint := newCountingProxy(t, srv)
	cfg := s3Config(t, srv)
	cfg.PartSize = blob.MinPartSize
	newS3(t, cfg) // creates the bucket
	cfg.Endpoint = endpoint
	cfg.CreateBucket = false
	s := newS3(t, cfg)
	for _, tc := range []struct {
		name     string
		size     int64
		declared int64
		want     []string
	}{
		{"empty", 0, 0, []string{"PUT object"}},
		{"JSON, size known", 3400, 3400, []string{"PUT object"}},
		{"JSON, size unknown", 3400, -1, []string{"PUT object"}},
		{"report, size known, several parts' worth", 3*blob.MinPartSize + 7, 3*blob.MinPartSize + 7, []string{"PUT object"}},
		{"report, size unknown, within one part", blob.MinPartSize - 1, -1, []string{"PUT object"}},
		{"report, size unknown, several parts", 2*blob.MinPartSize + 7, -1, []string{
			"initiate multipart", "PUT part", "PUT part", "PUT part", "complete multipart", "copy",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.requests()
			obj, err := s.Put(t.Context(), "k", blobtest.Data(9, tc.size), tc.declared, blob.PutOptions{ContentType: "application/pdf"})
			if err != nil {
				t.Fatal(err)
			}
			if got := proxy.requests(); strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("requests = %q, want %q", got, tc.want)
			}
			info, err := s.Stat(t.Context(), "k")
			if err != nil {
				t.Fatal(err)
			}
			if want := blobtest.DataSHA256(9, tc.size); obj.SHA256 != want || info.SHA256 != want || info.Size != tc.size {
				t.Errorf("Put sha256 %s, Stat %+v; want sha256 %s size %d", obj.SHA256, info, want, tc.size)
			}
		})
	}
}

// gate is a reader that yields n bytes, the first after open is closed
// and the rest after release is closed, and counts what was read.
type gate struct {
	r       io.Reader
	first   int64
	release chan struct{}
	read    atomic.Int64
}

func newGate(seed uint64, size, first int64) *gate {
	return &gate{r: blobtest.Data(seed, size), first: first, release: make(chan struct{})}
}

func (g *gate) Read(p []byte) (int, error) {
	if g.read.Load() >= g.first {
		<-g.release
	} else if rem := g.first - g.read.Load(); int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := g.r.Read(p)
	g.read.Add(int64(n))
	return n, err
}

func readUpTo(g *gate, n int64) func() error {
	return func() error {
		if got := g.read.Load(); got != n {
			return fmt.Errorf("read %d bytes, want %d", got, n)
		}
		return nil
	}
}

// TestS3UploadMemoryIsShared checks the upload budget: with room for one
// part, a large upload of unknown size that holds the part buffer makes a
// second one wait for it (it reads no further than the small-object
// probe), while an upload of known size and a small one go on.
func TestS3UploadMemoryIsShared(t *testing.T) {
	srv := testenv.MinIO(t)
	cfg := s3Config(t, srv)
	cfg.PartSize, cfg.UploadMemory = blob.MinPartSize, blob.MinPartSize
	s := newS3(t, cfg)
	ctx := t.Context()
	const large = 2*blob.MinPartSize + 1

	holder := newGate(1, large, blob.SmallObjectSize+2) // takes the buffer, then stalls
	errs := make(chan error, 2)
	go func() { _, err := s.Put(ctx, "holder", holder, -1, blob.PutOptions{}); errs <- err }()
	testenv.Eventually(t, 10*time.Second, readUpTo(holder, blob.SmallObjectSize+2)) // it holds the part buffer

	waiter := newGate(2, large, large)
	close(waiter.release) // never stalls by itself
	go func() { _, err := s.Put(ctx, "waiter", waiter, -1, blob.PutOptions{}); errs <- err }()
	testenv.Eventually(t, 10*time.Second, readUpTo(waiter, blob.SmallObjectSize+1)) // its probe: small or not

	// Known size and small objects do not wait on the budget.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.Put(wctx, "known", blobtest.Data(3, large), large, blob.PutOptions{}); err != nil {
		t.Fatalf("Put of known size while the budget is taken: %v", err)
	}
	if _, err := s.Put(wctx, "small", bytes.NewReader(make([]byte, 100<<10)), -1, blob.PutOptions{}); err != nil {
		t.Fatalf("small Put while the budget is taken: %v", err)
	}
	if got := waiter.read.Load(); got != blob.SmallObjectSize+1 {
		t.Fatalf("the waiting upload read %d bytes, want %d: it did not wait for the budget", got, blob.SmallObjectSize+1)
	}

	close(holder.release)
	if err := <-errs; err != nil {
		t.Fatalf("first large upload: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("second large upload: %v", err)
	}
	for key, seed := range map[string]uint64{"holder": 1, "waiter": 2} {
		info, err := s.Stat(ctx, key)
		if err != nil || info.SHA256 != blobtest.DataSHA256(seed, large) {
			t.Errorf("Stat(%s) = %+v, %v; want sha256 %s", key, info, err, blobtest.DataSHA256(seed, large))
		}
	}
}
