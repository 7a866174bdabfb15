package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// ErrMalformed is wrapped by every error of Verify.
var ErrMalformed = errors.New("malformed PDF")

var (
	startxrefRE = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	xrefHeadRE  = regexp.MustCompile(`^xref\s+0\s+(\d+)\s*\n`)
	sizeRE      = regexp.MustCompile(`/Size\s+(\d+)`)
	countRE     = regexp.MustCompile(`/Type\s*/Pages\b[^>]*?/Count\s+(\d+)`)
	pageRE      = regexp.MustCompile(`/Type\s*/Page\b[^s]`)
)

// Verify checks the structure of a PDF file written by this package (a
// single classic cross-reference table, no incremental updates): the
// header, that startxref points at the xref table, that every in-use entry
// of the table points at "N 0 obj" for its own N, that the trailer's /Size
// matches, and that the page tree's /Count equals the number of page
// objects. It returns the page count. It is a test aid, not a parser of
// arbitrary PDF.
func Verify(data []byte) (pages int, err error) {
	bad := func(format string, args ...any) (int, error) {
		return 0, fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if !bytes.HasPrefix(data, []byte("%PDF-1.")) {
		return bad("no %%PDF-1.x header")
	}
	m := startxrefRE.FindSubmatch(data)
	if m == nil {
		return bad("no startxref / %%%%EOF at the end")
	}
	xref, _ := strconv.Atoi(string(m[1]))
	if xref <= 0 || xref >= len(data) {
		return bad("startxref %d outside the file", xref)
	}
	head := xrefHeadRE.FindSubmatch(data[xref:])
	if head == nil {
		return bad("startxref %d does not point at an xref table", xref)
	}
	n, _ := strconv.Atoi(string(head[1]))
	entries := data[xref+len(head[0]):]
	if len(entries) < 20*n {
		return bad("xref table of %d entries is truncated", n)
	}
	for i := 0; i < n; i++ {
		e := entries[20*i : 20*i+20]
		if e[18] != '\r' && e[18] != ' ' || e[19] != '\n' && e[19] != '\r' {
			return bad("xref entry %d is not 20 bytes", i)
		}
		switch e[17] {
		case 'f':
			continue
		case 'n':
		default:
			return bad("xref entry %d has type %q", i, e[17])
		}
		off, err := strconv.Atoi(string(e[:10]))
		if err != nil || off <= 0 || off >= xref {
			return bad("xref entry %d: offset %q outside the body", i, e[:10])
		}
		want := strconv.Itoa(i) + " 0 obj"
		if !bytes.HasPrefix(data[off:], []byte(want)) {
			return bad("xref entry %d: offset %d holds %q, want %q", i, off, clip(data[off:], 16), want)
		}
	}
	trailer := entries[20*n:]
	sm := sizeRE.FindSubmatch(trailer)
	if sm == nil {
		return bad("trailer has no /Size")
	}
	if size, _ := strconv.Atoi(string(sm[1])); size != n {
		return bad("trailer /Size %d, xref has %d entries", size, n)
	}
	cm := countRE.FindSubmatch(data[:xref])
	if cm == nil {
		return bad("no page tree with /Count")
	}
	count, _ := strconv.Atoi(string(cm[1]))
	if objs := len(pageRE.FindAll(data[:xref], -1)); objs != count {
		return bad("page tree /Count %d, but %d page objects", count, objs)
	}
	return count, nil
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
