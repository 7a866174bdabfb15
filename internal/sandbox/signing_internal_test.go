package sandbox

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox/pdf"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/pdftest"
)

// countingHasher counts and hashes what is written, and keeps nothing.
type countingHasher struct {
	n int64
	h hash.Hash
}

func (c *countingHasher) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	c.h.Write(b)
	return len(b), nil
}

// TestLargeReportIsSignedAsItStreams writes a 20 MB report through a
// counting, hashing writer (and a file, to check it after): the heap it
// allocates stays far below its size, and it is signed all the same.
// Not parallel: it measures the process's allocations.
func TestLargeReportIsSignedAsItStreams(t *testing.T) {
	const size = 20 << 20
	// The checks read the report into memory: collect it before the
	// parallel tests run, one of which samples the heap in use.
	t.Cleanup(runtime.GC)
	s, err := New(Config{ReportSize: size})
	if err != nil {
		t.Fatal(err)
	}
	sess := s.open(amlapi.KindOrganization, amlapi.NO, createRequest{identifier: "923609016", idKind: mustKind(amlapi.NO),
		reports: []amlapi.ReportType{amlapi.ReportAML}}, DefaultClientID, time.Now())
	path := filepath.Join(t.TempDir(), "large.pdf")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	ch := &countingHasher{h: sha256.New()}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := s.writeReport(io.MultiWriter(ch, file), sess, amlapi.ReportAML)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes written, %d bytes allocated", n, alloc)
	if n != ch.n || n > size || n < size-64<<10 {
		t.Fatalf("wrote %d bytes (writeReport says %d), want about %d", ch.n, n, size)
	}
	if alloc > size/4 {
		t.Errorf("writing a %d-byte report allocated %d bytes", n, alloc)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], ch.h.Sum(nil)) {
		t.Fatal("the file differs from what went through the counting writer")
	}
	pdftest.Structure(t, data, 3)
	f, err := pdf.ParseSignature(data)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(f.Contents)
	if err != nil {
		t.Fatal(err)
	}
	p7.Content = f.Signed(data)
	pool := x509.NewCertPool()
	pool.AddCert(s.ReportCA())
	if err := p7.VerifyWithChain(pool); err != nil {
		t.Errorf("VerifyWithChain: %v", err)
	}
	if out := pdftest.SignaturesFile(t, path); !strings.Contains(out, "Signature Validation: Signature is Valid.") {
		t.Errorf("pdfsig:\n%s", out)
	}
	pdftest.ToolsFile(t, path)
}
