// Package pdftest checks PDF files in tests: the pure-Go structural check of
// package pdf, and the external tools pdfinfo (poppler-utils) and qpdf.
package pdftest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/sandbox/pdf"
)

// RequireEnv is the environment variable that turns a missing external tool
// from a skip into a failure (CI sets it).
const RequireEnv = "REQUIRE_PDF_TOOLS"

// Structure runs pdf.Verify on data and fails t unless it passes with at
// least minPages pages. It returns the page count.
func Structure(t testing.TB, data []byte, minPages int) int {
	t.Helper()
	n, err := pdf.Verify(data)
	if err != nil {
		t.Fatalf("PDF structure: %v", err)
	}
	if n < minPages {
		t.Fatalf("PDF has %d pages, want at least %d", n, minPages)
	}
	return n
}

var pagesRE = regexp.MustCompile(`(?m)^Pages:\s+(\d+)`)

// Tools writes data to a temporary file and runs pdfinfo and qpdf --check
// on it; either rejecting it fails t. It returns the page count pdfinfo
// reports. A missing tool skips t, or fails it when REQUIRE_PDF_TOOLS=1.
func Tools(t testing.TB, data []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "check.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return ToolsFile(t, path)
}

// ToolsFile is Tools for a file already on disk (a large report).
func ToolsFile(t testing.TB, path string) int {
	t.Helper()
	pages := 0
	for _, tool := range [][]string{{"pdfinfo", path}, {"qpdf", "--check", path}} {
		bin, err := exec.LookPath(tool[0])
		if err != nil {
			if os.Getenv(RequireEnv) == "1" {
				t.Fatalf("%s not found and %s=1: %v", tool[0], RequireEnv, err)
			}
			t.Skipf("%s not installed (poppler-utils, qpdf); set %s=1 to make this a failure", tool[0], RequireEnv)
		}
		out, err := exec.CommandContext(context.Background(), bin, tool[1:]...).CombinedOutput() //nolint:gosec // G204: pdfinfo or qpdf from PATH, on a test's file
		if err != nil {
			t.Fatalf("%s rejects the PDF: %v\n%s", strings.Join(tool, " "), err, out)
		}
		switch tool[0] {
		case "pdfinfo":
			m := pagesRE.FindSubmatch(out)
			if m == nil {
				t.Fatalf("pdfinfo prints no page count:\n%s", out)
			}
			pages, _ = strconv.Atoi(string(m[1]))
		case "qpdf":
			if !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
				t.Fatalf("qpdf --check:\n%s", out)
			}
		}
	}
	return pages
}

// Signatures runs pdfsig (poppler-utils) on data and returns its report.
// pdfsig exits non-zero for a file without signatures or with an invalid
// one, so its exit status is not checked: callers read the report. A
// missing pdfsig skips t, or fails it when REQUIRE_PDF_TOOLS=1.
func Signatures(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return SignaturesFile(t, path)
}

// SignaturesFile is Signatures for a file already on disk.
func SignaturesFile(t testing.TB, path string) string {
	t.Helper()
	bin, err := exec.LookPath("pdfsig")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("pdfsig not found and %s=1: %v", RequireEnv, err)
		}
		t.Skipf("pdfsig not installed (poppler-utils); set %s=1 to make this a failure", RequireEnv)
	}
	out, _ := exec.CommandContext(context.Background(), bin, path).CombinedOutput() //nolint:gosec // G204: pdfsig from PATH, on a test's file
	return string(out)
}
