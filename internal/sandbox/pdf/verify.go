package pdf

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// ErrMalformed is wrapped by every error of Verify and ParseSignature.
var ErrMalformed = errors.New("malformed PDF")

var (
	startxrefRE = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	subsectRE   = regexp.MustCompile(`^(\d{1,10}) (\d{1,10})\s*\n`)
	sizeRE      = regexp.MustCompile(`/Size\s+(\d+)`)
	prevRE      = regexp.MustCompile(`/Prev\s+(\d+)`)
	countRE     = regexp.MustCompile(`/Type\s*/Pages\b[^>]*?/Count\s+(\d+)`)
	pageRE      = regexp.MustCompile(`/Type\s*/Page\b[^s]`)
)

// maxRevisions bounds the chain of cross-reference sections Verify follows.
const maxRevisions = 16

// Verify checks the structure of a PDF file written by this package:
// classic cross-reference tables, the first one followed by at most a few
// incremental updates (such as a signature's), each with a /Prev to the
// one before. It checks the header, that startxref and every /Prev point
// at an xref table before them, that every in-use entry of every table
// points at "N 0 obj" for its own N, that the newest trailer's /Size
// covers every object, and that the first revision's page tree /Count
// equals its number of page objects. It returns the page count. It is a
// test aid, not a parser of arbitrary PDF.
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
	xref, err := strconv.Atoi(string(m[1]))
	if err != nil || xref <= 0 || xref >= len(data) {
		return bad("startxref %s outside the file", m[1])
	}
	size, maxObj := -1, 0
	for rev := 0; ; rev++ {
		if rev == maxRevisions {
			return bad("more than %d revisions", maxRevisions)
		}
		if !bytes.HasPrefix(data[xref:], []byte("xref\n")) {
			return bad("offset %d does not hold an xref table", xref)
		}
		rest := data[xref+len("xref\n"):]
		first := true
		for !bytes.HasPrefix(rest, []byte("trailer")) {
			head := subsectRE.FindSubmatch(rest)
			if head == nil {
				return bad("xref table at %d: no subsection header or trailer at %q", xref, clip(rest, 16))
			}
			start, _ := strconv.Atoi(string(head[1]))
			n, _ := strconv.Atoi(string(head[2]))
			rest = rest[len(head[0]):]
			if len(rest) < 20*n {
				return bad("xref subsection %d+%d is truncated", start, n)
			}
			for i := range n {
				num := start + i
				if err := checkEntry(data, xref, num, rest[20*i:20*i+20]); err != nil {
					return bad("%v", err)
				}
				maxObj = max(maxObj, num)
			}
			if first && start != 0 && !isUpdate(data, xref) {
				return bad("the first xref table does not start at object 0")
			}
			first = false
			rest = rest[20*n:]
		}
		end := bytes.Index(rest, []byte("startxref"))
		if end < 0 {
			return bad("trailer at %d has no startxref", xref)
		}
		trailer := rest[:end]
		if size < 0 {
			sm := sizeRE.FindSubmatch(trailer)
			if sm == nil {
				return bad("trailer has no /Size")
			}
			size, _ = strconv.Atoi(string(sm[1]))
			if size <= maxObj {
				return bad("trailer /Size %d, but the xref table has object %d", size, maxObj)
			}
		}
		pm := prevRE.FindSubmatch(trailer)
		if pm == nil {
			break
		}
		prev, err := strconv.Atoi(string(pm[1]))
		if err != nil || prev <= 0 || prev >= xref {
			return bad("/Prev %s is not before the xref table at %d", pm[1], xref)
		}
		xref = prev
	}
	if size <= maxObj {
		return bad("trailer /Size %d, but an xref table has object %d", size, maxObj)
	}
	// xref is now the first revision's table: count its pages.
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

// isUpdate reports whether the xref table at xref follows an earlier
// revision's %%EOF.
func isUpdate(data []byte, xref int) bool {
	return bytes.Contains(data[:xref], []byte("%%EOF"))
}

// checkEntry checks xref entry e of object num, in the table at xref.
func checkEntry(data []byte, xref, num int, e []byte) error {
	if e[18] != '\r' && e[18] != ' ' || e[19] != '\n' && e[19] != '\r' {
		return fmt.Errorf("xref entry %d is not 20 bytes", num)
	}
	switch e[17] {
	case 'f':
		return nil
	case 'n':
	default:
		return fmt.Errorf("xref entry %d has type %q", num, e[17])
	}
	off, err := strconv.Atoi(string(e[:10]))
	if err != nil || off <= 0 || off >= xref {
		return fmt.Errorf("xref entry %d: offset %q outside the body", num, e[:10])
	}
	want := strconv.Itoa(num) + " 0 obj"
	if !bytes.HasPrefix(data[off:], []byte(want)) {
		return fmt.Errorf("xref entry %d: offset %d holds %q, want %q", num, off, clip(data[off:], 16), want)
	}
	return nil
}

// SignatureField is the last signature dictionary of a PDF file, as
// ParseSignature reads it.
type SignatureField struct {
	// ByteRange is [0 a b c]: the signed bytes are data[0:a] and
	// data[b:b+c].
	ByteRange [4]int64
	// Contents is the CMS signature: the /Contents hex string decoded, its
	// zero padding removed.
	Contents []byte
	// SubFilter is the /SubFilter name without its slash.
	SubFilter string
	// Time is /M, the signing time; zero when absent or unreadable.
	Time time.Time
}

var (
	byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d{1,19})\s+(\d{1,19})\s+(\d{1,19})\s+(\d{1,19})\s*\]`)
	subFilterRE = regexp.MustCompile(`/SubFilter\s*/([A-Za-z0-9.#_-]+)`)
	sigTimeRE   = regexp.MustCompile(`/M\s*\(D:(\d{14})(Z|[+-]\d\d'\d\d'?)?\)`)
)

// ParseSignature finds the last /ByteRange of data and checks it the way a
// verifier must: it starts at 0, its hole is exactly the /Contents hex
// string of the same dictionary, angle brackets included, and it ends at
// the end of the file. It returns the signature field. It is a test aid: it
// reads the file as bytes, without a PDF parser.
func ParseSignature(data []byte) (SignatureField, error) {
	bad := func(format string, args ...any) (SignatureField, error) {
		return SignatureField{}, fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	all := byteRangeRE.FindAllSubmatchIndex(data, -1)
	if all == nil {
		return bad("no /ByteRange")
	}
	m := all[len(all)-1]
	var f SignatureField
	for i := range 4 {
		v, err := strconv.ParseInt(string(data[m[2+2*i]:m[3+2*i]]), 10, 64)
		if err != nil {
			return bad("/ByteRange number %q: %v", data[m[2+2*i]:m[3+2*i]], err)
		}
		f.ByteRange[i] = v
	}
	size := int64(len(data))
	a, b, c := f.ByteRange[1], f.ByteRange[2], f.ByteRange[3]
	switch {
	case f.ByteRange[0] != 0:
		return bad("/ByteRange starts at %d, not 0", f.ByteRange[0])
	case a <= 0 || a >= size || b <= a+1 || b > size || c != size-b:
		return bad("/ByteRange %v does not cover a file of %d bytes but one hole", f.ByteRange, size)
	case data[a] != '<' || data[b-1] != '>':
		return bad("the /ByteRange hole %d–%d is not a hex string", a, b)
	}
	// The hole must be the /Contents of the /ByteRange's own dictionary:
	// "/Contents" just before it, and no dictionary begins or ends between
	// the two (apart from the hole, which is hex digits).
	if lead := bytes.TrimRight(data[:a], " \t\r\n"); !bytes.HasSuffix(lead, []byte("/Contents")) {
		return bad("the /ByteRange hole at %d is not a /Contents value", a)
	}
	lo, hi := min(int64(m[0]), a), max(int64(m[1]), b)
	for _, part := range [][]byte{data[lo:a], data[b:hi]} {
		if bytes.Contains(part, []byte("<<")) || bytes.Contains(part, []byte(">>")) {
			return bad("the /Contents at %d is not in the dictionary of the /ByteRange", a)
		}
	}
	digits := data[a+1 : b-1]
	if len(digits)%2 == 1 {
		digits = append(bytes.Clone(digits), '0') // an odd hex string ends in an implied 0
	}
	der := make([]byte, hex.DecodedLen(len(digits)))
	if _, err := hex.Decode(der, digits); err != nil {
		return bad("/Contents: %v", err)
	}
	// The signature is one DER element, then zero padding.
	var raw asn1.RawValue
	pad, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return bad("/Contents is not a DER element: %v", err)
	}
	if len(bytes.Trim(pad, "\x00")) != 0 {
		return bad("/Contents: %d bytes after the DER element are not zero padding", len(pad))
	}
	f.Contents = raw.FullBytes

	start, end := lo, hi // the dictionary: from its "<<" to its ">>"
	if i := bytes.LastIndex(data[:lo], []byte("<<")); i >= 0 {
		start = int64(i)
	}
	if i := bytes.Index(data[hi:], []byte(">>")); i >= 0 {
		end = hi + int64(i)
	}
	dict := data[start:end]
	if sm := subFilterRE.FindSubmatch(dict); sm != nil {
		f.SubFilter = string(sm[1])
	}
	if tm := sigTimeRE.FindSubmatch(dict); tm != nil {
		f.Time, _ = time.Parse("20060102150405", string(tm[1])) // the offset is read as UTC: enough for a test aid
	}
	return f, nil
}

// Signed is the signed bytes of data under f's byte range (a copy).
func (f SignatureField) Signed(data []byte) []byte {
	a, b, c := f.ByteRange[1], f.ByteRange[2], f.ByteRange[3]
	out := make([]byte, 0, a+c)
	out = append(out, data[:a]...)
	return append(out, data[b:b+c]...)
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
