// Package pdf is a small streaming writer of PDF 1.4 files: text pages in
// the standard Helvetica fonts, written object by object, so that a document
// of any size never sits in memory. The sandbox uses it for its synthetic
// reports.
//
// Only what the sandbox needs is here: A4 pages, text in Helvetica and
// Helvetica-Bold (WinAnsi encoding, so Norwegian, Swedish and Finnish
// letters print), straight lines, and the document information dictionary.
// Content streams are not compressed. A document is deterministic: the same
// calls produce the same bytes.
//
// Layout of the file: header, catalog (object 1), the two fonts (3, 4), for
// each page its content stream and page object, then at Close the page tree
// (object 2, written last because it lists every page), the information
// dictionary, the cross-reference table and the trailer. A Writer made by
// NewSignedWriter then appends a signature as an incremental update (see
// Signature).
package pdf

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"time"
	"unicode/utf16"
)

// Page size: A4 in points.
const (
	PageWidth  = 595
	PageHeight = 842
)

// Font selects one of the two fonts of every document.
type Font int

// The fonts.
const (
	Regular Font = iota // Helvetica
	Bold                // Helvetica-Bold
)

// Info is the document information dictionary.
type Info struct {
	Title    string
	Author   string
	Subject  string
	Creator  string
	Producer string
	Created  time.Time // CreationDate; zero leaves it out
}

// ErrClosed is returned by a Writer used after Close.
var ErrClosed = errors.New("pdf: writer is closed")

// Fixed object numbers.
const (
	objCatalog = 1
	objPages   = 2
	objFont    = 3
	objBold    = 4
	firstFree  = 5
)

// Writer writes one PDF document to an io.Writer, page by page. It buffers
// at most one page's content. A Writer is not safe for concurrent use.
type Writer struct {
	bw      *bufio.Writer
	n       int64   // bytes written so far (the offset of the next byte)
	offsets []int64 // offsets[i] is the offset of object i; 0 = not yet written
	pages   []int   // object numbers of the page objects
	info    Info
	err     error // the first write error; sticky
	closed  bool
	scratch []byte

	sig  *Signature // nil: unsigned
	hash hash.Hash  // SHA-256 of every byte written so far, when signing
}

// NewWriter starts a document on w: it writes the header, the catalog and
// the fonts. Errors are reported by AddPage and Close.
func NewWriter(w io.Writer, info Info) *Writer {
	pw := &Writer{}
	pw.start(w, info)
	return pw
}

// start writes the header, the catalog and the fonts to out.
func (w *Writer) start(out io.Writer, info Info) {
	w.bw = bufio.NewWriterSize(out, 64<<10)
	w.offsets = make([]int64, firstFree)
	w.info = info
	// The second line marks the file as binary for transfer programs.
	w.write([]byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"))
	w.object(objCatalog, "<< /Type /Catalog /Pages 2 0 R >>")
	w.object(objFont, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	w.object(objBold, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Pages is the number of pages added so far.
func (w *Writer) Pages() int { return len(w.pages) }

// TrailerSize estimates how many bytes Close will still write for a
// document of pages pages: the page tree, the information dictionary, the
// cross-reference table and the trailer, and the signature's incremental
// update when signing. Callers padding a document to a size use it.
func (w *Writer) TrailerSize(pages int) int64 {
	objects := int64(firstFree + 2*pages + 1)
	n := 64 + int64(pages)*12 + 512 + 20*objects + 64
	if w.sig != nil {
		n += w.sig.updateSize()
	}
	return n
}

// AddPage writes one page: its content stream and its page object.
func (w *Writer) AddPage(p *Page) error {
	if w.closed {
		return ErrClosed
	}
	content := w.next()
	w.offsets[content] = w.n
	w.write([]byte(strconv.Itoa(content) + " 0 obj\n<< /Length " + strconv.Itoa(len(p.buf)) + " >>\nstream\n"))
	w.write(p.buf)
	w.write([]byte("\nendstream\nendobj\n"))
	page := w.next()
	w.object(page, pageDict(content, ""))
	w.pages = append(w.pages, page)
	return w.err
}

// pageDict is the dictionary of a page whose content stream is object
// content, with extra entries (such as /Annots) before its end.
func pageDict(content int, extra string) string {
	return "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + strconv.Itoa(PageWidth) + " " + strconv.Itoa(PageHeight) +
		"] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents " + strconv.Itoa(content) + " 0 R" + extra + " >>"
}

// Close writes the page tree, the information dictionary, the
// cross-reference table and the trailer, and flushes. It does not close the
// underlying writer. A document needs at least one page.
func (w *Writer) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	if len(w.pages) == 0 {
		return errors.New("pdf: a document needs at least one page")
	}

	// Page tree, written in pieces: it can list tens of thousands of pages.
	w.offsets[objPages] = w.n
	w.write([]byte("2 0 obj\n<< /Type /Pages /Count " + strconv.Itoa(len(w.pages)) + " /Kids ["))
	for i, p := range w.pages {
		if i%10 == 0 {
			w.write([]byte("\n"))
		}
		w.write([]byte(strconv.Itoa(p) + " 0 R "))
	}
	w.write([]byte("\n] >>\nendobj\n"))

	info := w.next()
	b := []byte("<<")
	for _, kv := range []struct{ k, v string }{
		{"Title", w.info.Title}, {"Author", w.info.Author}, {"Subject", w.info.Subject},
		{"Creator", w.info.Creator}, {"Producer", w.info.Producer},
	} {
		if kv.v != "" {
			b = append(b, " /"+kv.k+" "...)
			b = appendTextString(b, kv.v)
		}
	}
	if !w.info.Created.IsZero() {
		b = append(b, " /CreationDate ("...)
		b = w.info.Created.UTC().AppendFormat(b, "D:20060102150405Z")
		b = append(b, ')')
	}
	b = append(b, " >>"...)
	w.object(info, string(b))

	xref := w.n
	w.write([]byte("xref\n0 " + strconv.Itoa(len(w.offsets)) + "\n0000000000 65535 f \n"))
	for _, off := range w.offsets[1:] {
		w.write(fmt.Appendf(w.scratch[:0], "%010d 00000 n \n", off))
	}
	w.write([]byte("trailer\n<< /Size " + strconv.Itoa(len(w.offsets)) + " /Root 1 0 R /Info " + strconv.Itoa(info) +
		" 0 R >>\nstartxref\n" + strconv.FormatInt(xref, 10) + "\n%%EOF\n"))
	if w.sig != nil && w.err == nil {
		w.appendSignature(xref, info)
	}
	if w.err == nil {
		if err := w.bw.Flush(); err != nil {
			w.err = fmt.Errorf("pdf: %w", err)
		}
	}
	return w.err
}

// next allocates an object number.
func (w *Writer) next() int {
	w.offsets = append(w.offsets, 0)
	return len(w.offsets) - 1
}

// object writes a whole non-stream object.
func (w *Writer) object(num int, body string) {
	w.offsets[num] = w.n
	w.write([]byte(strconv.Itoa(num) + " 0 obj\n" + body + "\nendobj\n"))
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if w.hash != nil {
		w.hash.Write(b) // a hash.Hash never fails
	}
	n, err := w.bw.Write(b)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("pdf: %w", err)
	}
}

// Page is the content of one page under construction. The zero value is an
// empty page; Reset makes a Page reusable.
type Page struct {
	buf []byte
}

// Reset empties the page, keeping its buffer.
func (p *Page) Reset() { p.buf = p.buf[:0] }

// Len is the size of the page's content stream so far.
func (p *Page) Len() int { return len(p.buf) }

// Text writes s at (x, y) (points from the bottom left corner) in font f
// of the given size. Characters outside WinAnsi print as '?'.
func (p *Page) Text(f Font, size, x, y float64, s string) {
	name := "/F1 "
	if f == Bold {
		name = "/F2 "
	}
	p.buf = append(p.buf, "BT "+name...)
	p.buf = strconv.AppendFloat(p.buf, size, 'f', -1, 64)
	p.buf = append(p.buf, " Tf "...)
	p.buf = strconv.AppendFloat(p.buf, x, 'f', 2, 64)
	p.buf = append(p.buf, ' ')
	p.buf = strconv.AppendFloat(p.buf, y, 'f', 2, 64)
	p.buf = append(p.buf, " Td "...)
	p.buf = AppendString(p.buf, s)
	p.buf = append(p.buf, " Tj ET\n"...)
}

// Line draws a straight line of width 0.5 from (x1, y1) to (x2, y2).
func (p *Page) Line(x1, y1, x2, y2 float64) {
	p.buf = append(p.buf, "0.5 w "...)
	for i, v := range []float64{x1, y1, x2, y2} {
		p.buf = strconv.AppendFloat(p.buf, v, 'f', 2, 64)
		if i == 1 {
			p.buf = append(p.buf, " m "...)
		} else {
			p.buf = append(p.buf, ' ')
		}
	}
	p.buf = append(p.buf, "l S\n"...)
}

// AppendString appends s as a PDF literal string "(...)", in WinAnsi
// encoding: ASCII as is (with '(', ')' and '\' escaped), Latin-1 letters
// and a few punctuation marks as octal escapes, anything else as '?'.
func AppendString(b []byte, s string) []byte {
	b = append(b, '(')
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b = append(b, '\\', byte(r))
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		default:
			c, ok := winAnsi(r)
			if !ok {
				b = append(b, '?')
				continue
			}
			b = append(b, '\\', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
		}
	}
	return append(b, ')')
}

// appendTextString appends s as a PDF text string (for the information
// dictionary, which is not in WinAnsi): ASCII as a literal string, anything
// else as UTF-16BE with a byte order mark, in hex.
func appendTextString(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return AppendString(b, s)
	}
	const hexdigits = "0123456789ABCDEF"
	b = append(b, "<FEFF"...)
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, hexdigits[u>>12], hexdigits[u>>8&15], hexdigits[u>>4&15], hexdigits[u&15])
	}
	return append(b, '>')
}

// winAnsi maps a rune to its byte in WinAnsiEncoding.
func winAnsi(r rune) (byte, bool) {
	switch {
	case r >= 0xa0 && r <= 0xff:
		return byte(r), true
	case r == '€':
		return 0x80, true
	case r == '–':
		return 0x96, true
	case r == '—':
		return 0x97, true
	case r == '‘':
		return 0x91, true
	case r == '’':
		return 0x92, true
	case r == '“':
		return 0x93, true
	case r == '”':
		return 0x94, true
	case r == '•':
		return 0x95, true
	}
	return 0, false
}
