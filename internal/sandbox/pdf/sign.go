package pdf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// DefaultSignatureSize is the room for the CMS signature when
// Signature.Size is 0: 8 KiB, as 16 KiB of hex digits in /Contents. A
// signature with a chain of three ECDSA or RSA-2048 certificates takes
// under 4 KiB.
const DefaultSignatureSize = 8192

// ErrSignatureTooLarge is returned by Close when Signature.Sign returns
// more bytes than Signature.Size.
var ErrSignatureTooLarge = errors.New("pdf: the signature does not fit in its /Contents")

// Signature is a PDF signature (ISO 32000-1 12.8) that a signed Writer
// appends to the document at Close, as an incremental update: a signature
// dictionary (/Type /Sig, /Filter /Adobe.PPKLite, /SubFilter
// /ETSI.CAdES.detached, /ByteRange, /Contents, /M), the signature field (an
// invisible widget annotation on page 1), the AcroForm (/SigFlags 3), and
// new versions of the catalog and page 1 that point at them.
//
// The byte range is the whole file except the /Contents hex string, angle
// brackets included. The Writer hashes the document with SHA-256 as it
// writes it, so the document is never held in memory: the bytes that
// follow /Contents are computed before it is written (the hex string has a
// fixed length, Size zero-padded), hashed, and Sign gets the digest.
type Signature struct {
	// Time is the signing time, written as /M. (PAdES baseline B-B does not
	// allow a signing-time attribute in the CMS: the time is here.)
	Time time.Time
	// Name, Reason and Location are the optional /Name, /Reason and
	// /Location entries.
	Name, Reason, Location string
	// Size is the room for the CMS signature, in bytes (default
	// DefaultSignatureSize).
	Size int
	// Sign returns the DER CMS SignedData (detached) for the SHA-256 digest
	// of the byte range. It must fit in Size bytes.
	Sign func(digest []byte) ([]byte, error)
}

func (s *Signature) size() int {
	if s.Size > 0 {
		return s.Size
	}
	return DefaultSignatureSize
}

// updateSize bounds the size of the incremental update.
func (s *Signature) updateSize() int64 {
	return int64(2*s.size()+2) + 1024 + 2*int64(len(s.Name)+len(s.Reason)+len(s.Location))*2
}

// NewSignedWriter is NewWriter for a document that Close signs with sig.
func NewSignedWriter(w io.Writer, info Info, sig Signature) *Writer {
	s := sig
	pw := &Writer{sig: &s, hash: sha256.New()}
	pw.start(w, info)
	return pw
}

// byteRangeWidth is the room for "[0 a b c]", padded with spaces: the
// array is written after the offsets it names are known.
const byteRangeWidth = 64

// appendSignature writes the signature's incremental update after the
// trailer of the document, whose cross-reference table is at prevXref and
// whose information dictionary is object info.
func (w *Writer) appendSignature(prevXref int64, info int) {
	base := w.n
	sigObj := len(w.offsets)
	widget, form := sigObj+1, sigObj+2
	page1 := w.pages[0]
	ref := func(n int) string { return strconv.Itoa(n) + " 0 R" }

	// head: from the update's start to /Contents; hole: the hex string;
	// tail: everything after it, to the end of the file.
	head := []byte(strconv.Itoa(sigObj) + " 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange ")
	brAt := len(head)
	head = append(head, bytes.Repeat([]byte{' '}, byteRangeWidth)...)
	head = append(head, " /Contents "...)
	holeLen := int64(2*w.sig.size() + 2)
	after := base + int64(len(head)) + holeLen // offset of tail

	tail := []byte(" /M (")
	tail = w.sig.Time.UTC().AppendFormat(tail, "D:20060102150405Z")
	tail = append(tail, ')')
	for _, kv := range []struct{ k, v string }{{"Name", w.sig.Name}, {"Reason", w.sig.Reason}, {"Location", w.sig.Location}} {
		if kv.v != "" {
			tail = append(tail, " /"+kv.k+" "...)
			tail = appendTextString(tail, kv.v)
		}
	}
	tail = append(tail, " >>\nendobj\n"...)
	offsets := map[int]int64{sigObj: base}
	obj := func(n int, body string) {
		offsets[n] = after + int64(len(tail))
		tail = append(tail, strconv.Itoa(n)+" 0 obj\n"+body+"\nendobj\n"...)
	}
	obj(widget, "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature1) /V "+ref(sigObj)+
		" /F 132 /Rect [0 0 0 0] /P "+ref(page1)+" >>")
	obj(form, "<< /Fields ["+ref(widget)+"] /SigFlags 3 >>")
	obj(objCatalog, "<< /Type /Catalog /Pages 2 0 R /AcroForm "+ref(form)+" >>")
	obj(page1, pageDict(page1-1, " /Annots ["+ref(widget)+"]"))

	xref := after + int64(len(tail))
	tail = append(tail, "xref\n"...)
	for _, sub := range [][2]int{{objCatalog, 1}, {page1, 1}, {sigObj, 3}} {
		tail = fmt.Appendf(tail, "%d %d\n", sub[0], sub[1])
		for n := sub[0]; n < sub[0]+sub[1]; n++ {
			tail = fmt.Appendf(tail, "%010d 00000 n \n", offsets[n])
		}
	}
	tail = append(tail, "trailer\n<< /Size "+strconv.Itoa(form+1)+" /Root 1 0 R /Info "+ref(info)+
		" /Prev "+strconv.FormatInt(prevXref, 10)+" >>\nstartxref\n"+strconv.FormatInt(xref, 10)+"\n%%EOF\n"...)

	a := base + int64(len(head)) // the offset of '<'
	br := fmt.Appendf(nil, "[0 %d %d %d]", a, a+holeLen, len(tail))
	copy(head[brAt:], br) // fits: four numbers of at most 19 digits

	h := w.hash
	w.hash = nil // the rest is written as computed here
	h.Write(head)
	h.Write(tail)
	cms, err := w.sig.Sign(h.Sum(nil))
	if err != nil {
		w.err = fmt.Errorf("pdf: sign: %w", err)
		return
	}
	if len(cms) > w.sig.size() {
		w.err = fmt.Errorf("%w: %d bytes, room for %d", ErrSignatureTooLarge, len(cms), w.sig.size())
		return
	}
	hole := make([]byte, holeLen)
	hole[0] = '<'
	hex.Encode(hole[1:], cms)
	for i := 1 + 2*len(cms); i < len(hole)-1; i++ {
		hole[i] = '0'
	}
	hole[len(hole)-1] = '>'
	w.write(head)
	w.write(hole)
	w.write(tail)
}
