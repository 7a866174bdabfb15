package reportsig

// The scan: a PDF read once, as it streams, for what a signature check
// needs, in memory that does not grow with the file. A PDF signature
// (ISO 32000-1 12.8) is a dictionary with /ByteRange [0 b c d] and
// /Contents <hex>: the CMS signature, in the hole between b and c, over
// the bytes outside it. The hole's position is known only when the
// dictionary has been read, and the dictionary may come before or after
// the hole, so the scan hashes as it goes and keeps, for each hex string
// that follows a /Contents name (a candidate hole), the hash state at its
// '<' and, once it is closed, a hash of everything before the '<' and
// after the '>'. At the end the candidate that the last /ByteRange names
// is the signature.

import (
	"bytes"
	"crypto"
	"encoding"
	"hash"
	"strconv"
)

// Bounds of what the scan keeps.
const (
	// maxCandidates is how many candidate holes are hashed at once: each
	// closed one hashes the rest of the file once more. A signed report
	// has one per signature; more are dropped, oldest first.
	maxCandidates = 4
	// maxSignatureHex bounds a hole's hex digits kept (a CMS of 64 KiB).
	maxSignatureHex = 128 << 10
	// maxNameLen bounds the PDF names compared: longer ones are none of
	// those looked for.
	maxNameLen = 16
	// maxValueLen bounds a /ByteRange array's or a /M string's text.
	maxValueLen = 128
	// headerLen is the bytes kept from the start: the %PDF- header.
	headerLen = 8
)

// digests are the hash functions a signature may use; each runs over the
// whole stream.
var digests = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}

// candidate is a hex string that followed a /Contents name.
type candidate struct {
	start  int64                     // offset of its '<'
	end    int64                     // offset after its '>'; 0 while open
	prefix map[crypto.Hash][]byte    // each hash's state at start
	rest   map[crypto.Hash]hash.Hash // once closed: prefix + what follows end
	hex    []byte                    // its digits, up to maxSignatureHex
	long   bool                      // more digits than kept
}

// scanState is where the scan is in the PDF's tokens.
type scanState int

const (
	sIdle   scanState = iota // looking for '/'
	sName                    // reading a name after '/'
	sValue                   // after a name looked for: skipping whitespace
	sHex                     // in a candidate's hex string
	sArray                   // in a /ByteRange array
	sString                  // in a /M literal string
	sIgnore                  // a name not looked for: back to idle
)

// scan is the streaming state. Its zero value is not ready: use newScan.
type scan struct {
	n      int64 // bytes seen
	header []byte
	hashes map[crypto.Hash]hash.Hash

	state scanState
	name  []byte // the name being read
	want  string // the name whose value is awaited
	value []byte // an array's or a string's text
	depth int    // parentheses nesting in a string

	cands      []*candidate
	open       *candidate // the candidate whose hex is being read
	byteRanges [][4]int64 // each /ByteRange read, in order
	times      []string   // each /M string read, in order
}

func newScan() *scan {
	s := &scan{hashes: make(map[crypto.Hash]hash.Hash, len(digests))}
	for _, d := range digests {
		s.hashes[d] = d.New()
	}
	return s
}

// Write scans p. It never fails.
func (s *scan) Write(p []byte) (int, error) {
	if len(s.header) < headerLen {
		s.header = append(s.header, p[:min(len(p), headerLen-len(s.header))]...)
	}
	base := s.n
	flushed := 0 // p[:flushed] is in the hashes
	flush := func(to int) {
		if to > flushed {
			for _, h := range s.hashes {
				h.Write(p[flushed:to])
			}
			for _, c := range s.cands {
				if c.rest != nil {
					for _, h := range c.rest {
						h.Write(p[flushed:to])
					}
				}
			}
			flushed = to
		}
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch s.state {
		case sIdle:
			j := bytes.IndexByte(p[i:], '/')
			if j < 0 {
				i = len(p)
				continue
			}
			i += j
			s.state, s.name = sName, s.name[:0]
		case sName:
			if isRegular(b) {
				if len(s.name) < maxNameLen {
					s.name = append(s.name, b)
				} else {
					s.state = sIgnore
				}
				continue
			}
			s.endName()
			i-- // b is read again in the new state
		case sIgnore:
			if !isRegular(b) {
				s.state = sIdle
				i--
			}
		case sValue:
			switch {
			case isSpace(b):
			case s.want == "Contents" && b == '<':
				flush(i) // the hashes hold p before the '<'
				s.openCandidate(base + int64(i))
				s.state = sHex
			case s.want == "ByteRange" && b == '[':
				s.state, s.value = sArray, s.value[:0]
			case s.want == "M" && b == '(':
				s.state, s.value, s.depth = sString, s.value[:0], 0
			default:
				s.state = sIdle
				i--
			}
		case sHex:
			if b == '>' {
				flush(i + 1)
				s.closeCandidate(base + int64(i) + 1)
				s.state = sIdle
				continue
			}
			if c := s.open; len(c.hex) < maxSignatureHex {
				c.hex = append(c.hex, b)
			} else {
				c.long = true
			}
		case sArray:
			if b == ']' {
				s.endArray()
				s.state = sIdle
				continue
			}
			if len(s.value) >= maxValueLen {
				s.state = sIdle
				continue
			}
			s.value = append(s.value, b)
		case sString:
			switch {
			case b == '(':
				s.depth++
			case b == ')' && s.depth == 0:
				s.times = append(s.times, string(s.value))
				if len(s.times) > maxCandidates {
					s.times = s.times[1:]
				}
				s.state = sIdle
				continue
			case b == ')':
				s.depth--
			}
			if len(s.value) >= maxValueLen {
				s.state = sIdle
				continue
			}
			s.value = append(s.value, b)
		}
	}
	flush(len(p))
	s.n += int64(len(p))
	return len(p), nil
}

// endName acts on a name just read: a value is awaited after the names
// looked for.
func (s *scan) endName() {
	switch string(s.name) {
	case "Contents", "ByteRange", "M":
		s.state, s.want = sValue, string(s.name)
	default:
		s.state = sIdle
	}
}

// openCandidate begins a candidate at offset at, with the hashes' states.
func (s *scan) openCandidate(at int64) {
	c := &candidate{start: at, prefix: make(map[crypto.Hash][]byte, len(s.hashes))}
	for d, h := range s.hashes {
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return // the standard library's hashes always marshal
		}
		c.prefix[d] = st
	}
	s.open = c
	s.cands = append(s.cands, c)
	if len(s.cands) > maxCandidates {
		s.cands = s.cands[1:]
	}
}

// closeCandidate ends the open candidate at offset end: from now on its
// rest hashes see what follows.
func (s *scan) closeCandidate(end int64) {
	c := s.open
	s.open = nil
	if c == nil {
		return
	}
	c.end = end
	c.rest = make(map[crypto.Hash]hash.Hash, len(c.prefix))
	for d, st := range c.prefix {
		h := d.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
			continue
		}
		c.rest[d] = h
	}
	c.prefix = nil
}

// endArray keeps a /ByteRange of four non-negative integers.
func (s *scan) endArray() {
	var br [4]int64
	n := 0
	for _, f := range splitFields(s.value) {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v < 0 || n == 4 {
			return
		}
		br[n] = v
		n++
	}
	if n == 4 {
		s.byteRanges = append(s.byteRanges, br)
		if len(s.byteRanges) > maxCandidates {
			s.byteRanges = s.byteRanges[1:]
		}
	}
}

// signed is the candidate the last /ByteRange names, when that range is
// [0 start end size-end]: it covers the whole file but the hole.
func (s *scan) signed() (*candidate, [4]int64, bool) {
	if len(s.byteRanges) == 0 {
		return nil, [4]int64{}, false
	}
	br := s.byteRanges[len(s.byteRanges)-1]
	for _, c := range s.cands {
		if c.rest != nil && br[0] == 0 && br[1] == c.start && br[2] == c.end && br[2]+br[3] == s.n {
			return c, br, true
		}
	}
	return nil, br, false
}

func splitFields(b []byte) []string {
	var out []string
	start := -1
	for i, c := range b {
		if isSpace(c) {
			if start >= 0 {
				out = append(out, string(b[start:i]))
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, string(b[start:]))
	}
	return out
}

// isSpace is PDF white space (ISO 32000-1 7.2.2).
func isSpace(b byte) bool {
	return b == 0 || b == '\t' || b == '\n' || b == '\f' || b == '\r' || b == ' '
}

// isRegular is a regular character: neither white space nor a delimiter.
func isRegular(b byte) bool {
	switch b {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return false
	}
	return !isSpace(b)
}
