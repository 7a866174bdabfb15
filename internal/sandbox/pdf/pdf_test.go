package pdf_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/sandbox/pdf"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/pdftest"
)

func sample(t testing.TB, pages int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pdf.NewWriter(&buf, pdf.Info{
		Title: "Rapport (test) \\ Ærø Åsane Öland Äänekoski", Producer: "pdf_test",
		Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	var p pdf.Page
	for i := range pages {
		p.Reset()
		p.Text(pdf.Bold, 18, 72, 770, "Side "+string(rune('A'+i))+" – Brønnøysund (ø) ✓")
		p.Line(72, 760, 523, 760)
		p.Text(pdf.Regular, 10, 72, 740, "Helvetica: Göteborg, Jyväskylä, 100 €")
		if err := w.AddPage(&p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.Size(); got != int64(buf.Len()) {
		t.Fatalf("Size() = %d, wrote %d", got, buf.Len())
	}
	return buf.Bytes()
}

func TestVerifyStructure(t *testing.T) {
	data := sample(t, 3)
	n, err := pdf.Verify(data)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("pages = %d, want 3", n)
	}
	if !bytes.Contains(data, []byte(`/Title <FEFF0052006100700070006F0072007400200028007400650073007400290020005C002000C6007200F8`)) {
		t.Errorf("non-ASCII title not in UTF-16BE:\n%s", data)
	}
	if !bytes.Contains(data, []byte(`/Producer (pdf_test)`)) {
		t.Errorf("ASCII producer not a literal string:\n%s", data)
	}
	if !bytes.Contains(data, []byte(`Side A \226 Br\370nn\370ysund \(\370\) ?`)) {
		t.Errorf("page text not escaped in WinAnsi")
	}
	if !bytes.Equal(data, sample(t, 3)) {
		t.Error("the same calls gave different bytes")
	}
}

func TestVerifyRejects(t *testing.T) {
	good := sample(t, 2)
	for name, mutate := range map[string]func([]byte) []byte{
		"no header":      func(b []byte) []byte { return b[1:] },
		"truncated":      func(b []byte) []byte { return b[:len(b)-40] },
		"shifted object": func(b []byte) []byte { return bytes.Replace(b, []byte("3 0 obj"), []byte(" 3 0 obj"), 1) },
		"bad count":      func(b []byte) []byte { return bytes.Replace(b, []byte("/Count 2"), []byte("/Count 3"), 1) },
	} {
		t.Run(name, func(t *testing.T) {
			b := mutate(bytes.Clone(good))
			if _, err := pdf.Verify(b); !errors.Is(err, pdf.ErrMalformed) {
				t.Fatalf("Verify = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestCloseWithoutPages(t *testing.T) {
	w := pdf.NewWriter(io.Discard, pdf.Info{})
	if err := w.Close(); err == nil {
		t.Fatal("Close of an empty document succeeded")
	}
	if err := w.AddPage(&pdf.Page{}); !errors.Is(err, pdf.ErrClosed) {
		t.Fatalf("AddPage after Close = %v, want ErrClosed", err)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(b []byte) (int, error) {
	if f.n -= len(b); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(b), nil
}

func TestWriteErrorIsSticky(t *testing.T) {
	w := pdf.NewWriter(&failWriter{n: 100}, pdf.Info{})
	var p pdf.Page
	p.Text(pdf.Regular, 10, 10, 10, strings.Repeat("x", 70<<10)) // beyond the 64 KiB buffer
	if err := w.AddPage(&p); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("AddPage = %v, want the write error", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a write error succeeded")
	}
}

// TestExternalTools runs poppler's pdfinfo and qpdf --check on a sample.
func TestExternalTools(t *testing.T) {
	if n := pdftest.Tools(t, sample(t, 2)); n != 2 {
		t.Errorf("pdfinfo sees %d pages, want 2", n)
	}
}
