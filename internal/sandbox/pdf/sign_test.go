package pdf_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/kybflow/kybflow/internal/sandbox/pdf"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/cms"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/pdftest"
)

var testCA = cms.TestCA{
	Organization: "kybflow pdf test", Root: "pdf test root", Intermediate: "pdf test intermediate",
	Leaf: "pdf test signer",
}

var signTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// TamperedOffset is a byte whose change leaves the file a valid PDF: the
// first of the binary comment on the second line.
const TamperedOffset = 10

// signer makes a fresh test PKI.
func signer(t testing.TB) (*x509.Certificate, *cms.Signer) {
	t.Helper()
	root, s, err := testCA.Generate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return root, s
}

// writeSigned writes a signed document of pages pages to out, each page
// with lines lines of text.
func writeSigned(t testing.TB, out io.Writer, s *cms.Signer, pages, lines int) int64 {
	t.Helper()
	w := pdf.NewSignedWriter(out, pdf.Info{Title: "Signert rapport – Ærø", Created: signTime}, pdf.Signature{
		Time: signTime, Name: s.Certificate().Subject.CommonName, Reason: "test – grunn", Sign: s.Sign,
	})
	var texts []string
	for i := range 26 {
		texts = append(texts, strings.Repeat("signed page text ", 5)+string(rune('A'+i)))
	}
	var p pdf.Page
	for i := range pages {
		p.Reset()
		for j := range lines {
			p.Text(pdf.Regular, 9, 56, float64(780-(j%60)*12), texts[i%26])
		}
		if err := w.AddPage(&p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Size()
}

func signedSample(t testing.TB, s *cms.Signer) []byte {
	t.Helper()
	var buf bytes.Buffer
	if n := writeSigned(t, &buf, s, 3, 5); n != int64(buf.Len()) {
		t.Fatalf("Size() = %d, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

// checkCMS verifies the signature of data with pkcs7 against root.
func checkCMS(t testing.TB, data []byte, root *x509.Certificate) (pdf.SignatureField, error) {
	t.Helper()
	f, err := pdf.ParseSignature(data)
	if err != nil {
		t.Fatalf("ParseSignature: %v", err)
	}
	p7, err := pkcs7.Parse(f.Contents)
	if err != nil {
		t.Fatalf("pkcs7.Parse: %v", err)
	}
	p7.Content = f.Signed(data)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return f, p7.VerifyWithChain(pool)
}

func TestSignedDocument(t *testing.T) {
	root, s := signer(t)
	data := signedSample(t, s)
	if n, err := pdf.Verify(data); err != nil || n != 3 {
		t.Fatalf("Verify = %d, %v; want 3 pages", n, err)
	}
	f, err := checkCMS(t, data, root)
	if err != nil {
		t.Fatalf("VerifyWithChain: %v", err)
	}
	if f.SubFilter != "ETSI.CAdES.detached" || !f.Time.Equal(signTime) {
		t.Errorf("SubFilter %q, /M %v", f.SubFilter, f.Time)
	}
	a, b, c := f.ByteRange[1], f.ByteRange[2], f.ByteRange[3]
	if b+c != int64(len(data)) || data[a] != '<' || data[b-1] != '>' || b-a != 2*pdf.DefaultSignatureSize+2 {
		t.Errorf("ByteRange %v of a %d-byte file", f.ByteRange, len(data))
	}
	for _, want := range []string{"/Type /Sig", "/Filter /Adobe.PPKLite", "/SubFilter /ETSI.CAdES.detached",
		"/FT /Sig", "/SigFlags 3", "/AcroForm", "/Annots [", "/M (D:20250304050607Z)", "/Prev "} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("no %q in the signed file", want)
		}
	}
	// Deterministic: the same calls give the same bytes.
	if again := signedSample(t, s); !bytes.Equal(again, data) {
		t.Error("two signed writes differ")
	}
	// Another CA's root does not verify it.
	other, _ := signer(t)
	if _, err := checkCMS(t, data, other); err == nil {
		t.Error("verified against an unrelated root")
	}
	// Any change inside the byte range breaks it.
	text := int64(bytes.Index(data, []byte("signed page text")))
	reason := int64(bytes.LastIndex(data, []byte("/Reason")))
	if text < 0 || reason < b {
		t.Fatalf("page text at %d, /Reason at %d, hole %d–%d", text, reason, a, b)
	}
	for _, off := range []int64{TamperedOffset, text + 3, reason + 3, int64(len(data)) - 1} {
		bad := bytes.Clone(data)
		bad[off] ^= 1
		var mismatch *pkcs7.MessageDigestMismatchError
		if _, err := checkCMS(t, bad, root); !errors.As(err, &mismatch) {
			t.Errorf("byte %d changed: %v, want a digest mismatch", off, err)
		}
	}
}

// TestSignedTools: qpdf --check and pdfinfo accept a signed document, and
// pdfsig finds the signature valid, made by the leaf, over the whole file;
// a changed byte is a digest mismatch to pdfsig.
func TestSignedTools(t *testing.T) {
	_, s := signer(t)
	data := signedSample(t, s)
	if n := pdftest.Tools(t, data); n != 3 {
		t.Errorf("pdfinfo sees %d pages, want 3", n)
	}
	out := pdftest.Signatures(t, data)
	for _, want := range []string{"Signature Validation: Signature is Valid.", "Signer Certificate Common Name: pdf test signer",
		"Signature Type: ETSI.CAdES.detached", "Signing Hash Algorithm: SHA-256", "Total document signed"} {
		if !strings.Contains(out, want) {
			t.Errorf("pdfsig lacks %q:\n%s", want, out)
		}
	}
	bad := bytes.Clone(data)
	bad[10] ^= 1
	if out := pdftest.Signatures(t, bad); !strings.Contains(out, "Signature Validation: Digest Mismatch.") {
		t.Errorf("pdfsig on a changed file:\n%s", out)
	}
}

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

// TestSignedLargeStreams signs a 20 MB document written through a
// counting, hashing writer (and a file, for pdfsig): the heap allocated
// while writing it stays far below its size.
func TestSignedLargeStreams(t *testing.T) {
	root, s := signer(t)
	path := filepath.Join(t.TempDir(), "large.pdf")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	ch := &countingHasher{h: sha256.New()}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := writeSigned(t, io.MultiWriter(ch, file), s, 300, 600) // about 22 MB
	runtime.ReadMemStats(&after)
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	if n != ch.n || n < 20<<20 {
		t.Fatalf("wrote %d bytes, Size() %d, want at least 20 MiB", ch.n, n)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes written, %d bytes allocated", n, alloc)
	if alloc > 4<<20 {
		t.Errorf("writing a %d-byte signed document allocated %d bytes", n, alloc)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], ch.h.Sum(nil)) {
		t.Fatal("the file differs from what went through the counting writer")
	}
	if _, err := checkCMS(t, data, root); err != nil {
		t.Errorf("VerifyWithChain: %v", err)
	}
	if out := pdftest.SignaturesFile(t, path); !strings.Contains(out, "Signature Validation: Signature is Valid.") {
		t.Errorf("pdfsig:\n%s", out)
	}
}

func TestSignErrors(t *testing.T) {
	_, s := signer(t)
	write := func(sig pdf.Signature) error {
		w := pdf.NewSignedWriter(io.Discard, pdf.Info{}, sig)
		if err := w.AddPage(&pdf.Page{}); err != nil {
			return err
		}
		return w.Close()
	}
	if err := write(pdf.Signature{Size: 64, Sign: s.Sign}); !errors.Is(err, pdf.ErrSignatureTooLarge) {
		t.Errorf("a signature larger than Size: %v", err)
	}
	boom := errors.New("hsm unplugged")
	if err := write(pdf.Signature{Sign: func([]byte) ([]byte, error) { return nil, boom }}); !errors.Is(err, boom) {
		t.Errorf("a failing Sign: %v", err)
	}
}

// TestTrailerSizeCoversTheSignature: TrailerSize is an upper bound of what
// Close writes, signature included.
func TestTrailerSizeCoversTheSignature(t *testing.T) {
	_, s := signer(t)
	var buf bytes.Buffer
	w := pdf.NewSignedWriter(&buf, pdf.Info{Title: "t"}, pdf.Signature{Time: signTime, Name: "n", Reason: "r", Sign: s.Sign})
	var p pdf.Page
	p.Text(pdf.Regular, 9, 10, 10, "x")
	for range 3 {
		if err := w.AddPage(&p); err != nil {
			t.Fatal(err)
		}
	}
	before, est := w.Size(), w.TrailerSize(3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.Size() - before; got > est || got < est/2 {
		t.Errorf("Close wrote %d bytes, TrailerSize said %d", got, est)
	}
}

func TestParseSignatureRejects(t *testing.T) {
	_, s := signer(t)
	good := signedSample(t, s)
	f, err := pdf.ParseSignature(good)
	if err != nil {
		t.Fatal(err)
	}
	a := f.ByteRange[1]
	for name, mutate := range map[string]func([]byte) []byte{
		"unsigned":       func([]byte) []byte { return sample(t, 2) },
		"appended":       func(b []byte) []byte { return append(b, "% more\n"...) },
		"truncated":      func(b []byte) []byte { return b[:len(b)-1] },
		"non-hex":        func(b []byte) []byte { b[a+3] = 'x'; return b },
		"not DER":        func(b []byte) []byte { copy(b[a+1:], "ff"); return b },
		"not contents":   func(b []byte) []byte { return bytes.Replace(b, []byte("/Contents <"), []byte("/Cantents <"), 1) },
		"nonzero start":  func(b []byte) []byte { return bytes.Replace(b, []byte("/ByteRange [0 "), []byte("/ByteRange [1 "), 1) },
		"padding not 0s": func(b []byte) []byte { b[f.ByteRange[2]-3] = '1'; return b },
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := pdf.ParseSignature(mutate(bytes.Clone(good))); !errors.Is(err, pdf.ErrMalformed) {
				t.Fatalf("ParseSignature = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestVerifyRejectsBadUpdates(t *testing.T) {
	_, s := signer(t)
	good := signedSample(t, s)
	for name, mutate := range map[string]func([]byte) []byte{
		"prev after": func(b []byte) []byte { return bytes.Replace(b, []byte("/Prev "), []byte("/Prev 9"), 1) },
		"moved object": func(b []byte) []byte {
			return bytes.Replace(b, []byte("\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /AcroForm"), []byte("\n 1 0 obj\n<< /Type /Catalog /Pages 2 0 R /AcroForm"), 1)
		},
		"small size": func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("/Size "))
			return slices.Concat(b[:i], []byte("/Size 2 /X"), b[i+len("/Size "):])
		},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := pdf.Verify(mutate(bytes.Clone(good))); !errors.Is(err, pdf.ErrMalformed) {
				t.Fatalf("Verify = %v, want ErrMalformed", err)
			}
		})
	}
}
