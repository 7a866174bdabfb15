// Package reportsig checks a PDF report's signature as the report streams
// into storage: the worker writes the download through a Verifier on its
// way to the store, and asks it, once the body is read, what the signature
// is worth. Nothing is held but hash states, the signature's own bytes and
// a few small values (scan.go), so a 100 MB report costs what a 3 KB one
// does.
//
// A signature is checked as PAdES (ETSI EN 319 142-1) and ISO 32000-1
// 12.8 describe it: the last signature dictionary's /ByteRange must cover
// the whole file but its /Contents hole (a signature over less, or an
// update appended after it, is invalid: what is stored is not what was
// signed); the CMS SignedData in the hole must carry the byte range's
// digest in its messageDigest attribute and a signature over its signed
// attributes that the signer's certificate verifies; the certificate must
// chain, at the signing time, to a certificate of the operator's trust
// store (REPORT_TRUST_CA); the signing time (the signingTime attribute, or
// the dictionary's /M, which PAdES baseline uses) must not be in the
// future. The CMS is parsed and verified by github.com/smallstep/pkcs7,
// given the digest computed here (its Hasher), not the content.
package reportsig

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/smallstep/pkcs7"
)

// Status is what a report's signature is worth.
type Status string

// The statuses, as artifacts carry them.
const (
	// Valid: the byte range covers the file, its digest and the CMS
	// signature check out, and the signer chains to the trust store.
	Valid Status = "valid"
	// Invalid: there is a signature, and it does not check out: a digest
	// mismatch, a broken CMS, a range that leaves bytes unsigned, a
	// signing time in the future.
	Invalid Status = "invalid"
	// Unsigned: no signature dictionary at all.
	Unsigned Status = "unsigned"
	// Untrusted: the signature is intact, but its signer does not chain to
	// the trust store (or there is none).
	Untrusted Status = "untrusted"
)

// Result is the outcome of one report's check.
type Result struct {
	Status Status
	// Signer is the signing certificate's subject (RFC 4514), when the
	// CMS could be read.
	Signer string
	// SignedAt is the signing time the signature claims; zero if none.
	SignedAt time.Time
	// Reason says why the status is not Valid; it quotes no content.
	Reason string
}

// clockSkew is how far in the future a signing time may be: the signer's
// clock and ours differ.
const clockSkew = 5 * time.Minute

// Trust is the operator's trust store: the CA certificates a report's
// signer must chain to.
type Trust struct {
	pool *x509.CertPool
	n    int
}

// NewTrust is a trust store of certs.
func NewTrust(certs ...*x509.Certificate) *Trust {
	t := &Trust{pool: x509.NewCertPool()}
	for _, c := range certs {
		t.pool.AddCert(c)
		t.n++
	}
	return t
}

// LoadTrust reads PEM files of CA certificates (REPORT_TRUST_CA). A file
// that cannot be read, or holds no certificate, is an error naming it.
func LoadTrust(paths []string) (*Trust, error) {
	t := NewTrust()
	for _, p := range paths {
		data, err := os.ReadFile(p) //nolint:gosec // G304: the operator names the file (REPORT_TRUST_CA)
		if err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
		found := 0
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("trust store: %s: certificate %d: %w", p, found+1, err)
			}
			t.pool.AddCert(c)
			t.n++
			found++
		}
		if found == 0 {
			return nil, fmt.Errorf("trust store: %s holds no PEM certificate", p)
		}
	}
	return t, nil
}

// Len is the number of certificates in the store.
func (t *Trust) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// Verifier scans a report written to it (an io.Writer that never fails)
// and checks its signature when asked.
type Verifier struct{ s *scan }

// New is a Verifier for one report.
func New() *Verifier { return &Verifier{s: newScan()} }

// Write scans p; it never fails.
func (v *Verifier) Write(p []byte) (int, error) { return v.s.Write(p) }

// pdfHeader begins every PDF file.
var pdfHeader = []byte("%PDF-")

// IsPDF reports whether the bytes written so far begin with the %PDF-
// header (false until five bytes are written).
func (v *Verifier) IsPDF() bool { return IsPDF(v.s.header) }

// IsPDF reports whether head, a file's first bytes, begins with %PDF-.
func IsPDF(head []byte) bool { return bytes.HasPrefix(head, pdfHeader) }

// Result checks the signature of what was written, the whole report,
// against trust (nil: none configured) at now.
func (v *Verifier) Result(trust *Trust, now time.Time) Result {
	s := v.s
	if !v.IsPDF() {
		return Result{Status: Invalid, Reason: "not a PDF: no %PDF- header"}
	}
	c, br, ok := s.signed()
	switch {
	case !ok && len(s.byteRanges) == 0:
		return Result{Status: Unsigned, Reason: "no signature dictionary (/ByteRange)"}
	case !ok:
		return Result{Status: Invalid, Reason: fmt.Sprintf("the last signature's byte range %v does not cover the file of %d bytes but its /Contents: bytes were changed or added after signing", br, s.n)}
	case c.long:
		return Result{Status: Invalid, Reason: fmt.Sprintf("the signature is larger than %d bytes", maxSignatureHex/2)}
	}
	der, err := decodeHex(c.hex)
	if err != nil {
		return Result{Status: Invalid, Reason: "signature /Contents: " + err.Error()}
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return Result{Status: Invalid, Reason: "signature is no CMS SignedData: " + err.Error()}
	}
	if len(p7.Signers) != 1 {
		return Result{Status: Invalid, Reason: fmt.Sprintf("the CMS has %d signers, want 1", len(p7.Signers))}
	}
	p7.Hasher = hasher{c}
	r := Result{Status: Invalid}
	if ee := p7.GetOnlySigner(); ee != nil {
		r.Signer = ee.Subject.String()
	}
	r.SignedAt = signingTime(p7, s.times)
	if err := p7.Verify(); err != nil {
		var mismatch *pkcs7.MessageDigestMismatchError
		if errors.As(err, &mismatch) {
			r.Reason = "the byte range's digest is not the one signed: the report was changed after signing"
		} else {
			r.Reason = "CMS signature: " + err.Error()
		}
		return r
	}
	if !r.SignedAt.IsZero() && r.SignedAt.After(now.Add(clockSkew)) {
		r.Reason = fmt.Sprintf("signing time %s is in the future", r.SignedAt.Format(time.RFC3339))
		return r
	}
	r.Status = Untrusted
	if trust.Len() == 0 {
		r.Reason = "no trust store (REPORT_TRUST_CA) to check the signer against"
		return r
	}
	at := r.SignedAt
	if at.IsZero() {
		at = now
	}
	if err := p7.VerifyWithChainAtTime(trust.pool, at); err != nil {
		r.Reason = "the signer does not chain to the trust store: " + err.Error()
		return r
	}
	r.Status, r.Reason = Valid, ""
	return r
}

// hasher hands pkcs7 the digests of a candidate's byte range, computed
// as it streamed: the content itself is never held.
type hasher struct{ c *candidate }

func (h hasher) Hash(d crypto.Hash, _ io.Reader) ([]byte, error) {
	r, ok := h.c.rest[d]
	if !ok {
		return nil, fmt.Errorf("digest algorithm %v is not supported", d)
	}
	return r.Sum(nil), nil
}

// decodeHex decodes a hex string's digits (white space ignored, an odd
// last digit followed by 0, as ISO 32000-1 7.3.4.3 says) and cuts the
// zero padding after the DER value.
func decodeHex(digits []byte) ([]byte, error) {
	clean := make([]byte, 0, len(digits)+1)
	for _, b := range digits {
		if !isSpace(b) {
			clean = append(clean, b)
		}
	}
	if len(clean)%2 == 1 {
		clean = append(clean, '0')
	}
	raw := make([]byte, hex.DecodedLen(len(clean)))
	if _, err := hex.Decode(raw, clean); err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	var v asn1.RawValue
	if _, err := asn1.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("not DER: %w", err)
	}
	return v.FullBytes, nil
}

// signingTime is the CMS signingTime attribute, else the last /M of the
// file (PAdES baseline puts it there); zero if neither reads.
func signingTime(p7 *pkcs7.PKCS7, times []string) time.Time {
	var t time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &t); err == nil {
		return t.UTC()
	}
	for i := len(times) - 1; i >= 0; i-- {
		if t, err := ParseDate(times[i]); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// ParseDate reads a PDF date string (ISO 32000-1 7.9.4):
// D:YYYYMMDDHHmmSSOHH'mm', where everything after the year is optional and
// O is +, - or Z.
func ParseDate(s string) (time.Time, error) {
	orig := s
	if len(s) >= 2 && s[:2] == "D:" {
		s = s[2:]
	}
	fields := []int{0, 1, 1, 0, 0, 0} // year month day hour minute second
	widths := []int{4, 2, 2, 2, 2, 2}
	for i, w := range widths {
		if len(s) < w || !digitsOnly(s[:w]) {
			if i == 0 {
				return time.Time{}, fmt.Errorf("PDF date %q: no year", orig)
			}
			break
		}
		fields[i] = atoi(s[:w])
		s = s[w:]
	}
	loc := time.UTC
	if s != "" {
		switch s[0] {
		case 'Z':
		case '+', '-':
			tz := s[1:]
			hh, mm := 0, 0
			if len(tz) >= 2 && digitsOnly(tz[:2]) {
				hh = atoi(tz[:2])
				tz = tz[2:]
			}
			if len(tz) > 0 && tz[0] == '\'' {
				tz = tz[1:]
			}
			if len(tz) >= 2 && digitsOnly(tz[:2]) {
				mm = atoi(tz[:2])
			}
			off := hh*3600 + mm*60
			if s[0] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
		default:
			return time.Time{}, fmt.Errorf("PDF date %q: bad zone", orig)
		}
	}
	t := time.Date(fields[0], time.Month(fields[1]), fields[2], fields[3], fields[4], fields[5], 0, loc)
	if t.Month() != time.Month(fields[1]) || t.Day() != fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59 {
		return time.Time{}, fmt.Errorf("PDF date %q: out of range", orig)
	}
	return t, nil
}

func digitsOnly(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
