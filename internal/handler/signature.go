package handler

// A report's signature: checked while the report streams into storage
// (internal/reportsig), recorded on the artifact and in the object's
// metadata, and, under REPORT_SIGNATURE_POLICY=fail, the lookup's failure
// when it is not valid. A report that is not a PDF at all is never stored.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/reportsig"
)

// Reports is how the worker checks reports' signatures.
type Reports struct {
	// Trust is the operator's trust store (REPORT_TRUST_CA); nil: none,
	// and every intact signature is untrusted.
	Trust *reportsig.Trust
	// FailUnlessValid fails a lookup whose report is not valid
	// (REPORT_SIGNATURE_POLICY=fail), with code report_signature_invalid;
	// otherwise the report is stored and flagged.
	FailUnlessValid bool
}

// errNotPDF: the report link answered with something that is no PDF (an
// error page with a PDF content type, say). Nothing is stored; the report
// is waited for as one not ready (collect.go): asked for again at each
// poll, and, once the results can no longer be read, missing.
var errNotPDF = errors.New("not a PDF")

// errSignature is a report stored, whose signature is not valid, under
// REPORT_SIGNATURE_POLICY=fail: the lookup fails with this code.
type errSignature struct {
	name string
	sig  kybflow.ReportSignature
}

func (e *errSignature) Error() string {
	return fmt.Sprintf("%s: signature %s (%s); REPORT_SIGNATURE_POLICY=fail", e.name, e.sig.Status, e.sig.Reason)
}

// reportCheck is one report's check while it streams.
type reportCheck struct {
	v     *reportsig.Verifier
	trust *reportsig.Trust
	now   func() time.Time
	sig   *kybflow.ReportSignature // once After ran
}

// checkReport begins the check of a report read from r: it refuses one
// that does not begin with %PDF-, and returns the body to store (r,
// scanned on its way) and the check.
func (h *Handlers) checkReport(r io.Reader) (io.Reader, *reportCheck, error) {
	br := bufio.NewReaderSize(r, 512)
	head, err := br.Peek(len("%PDF-"))
	if !reportsig.IsPDF(head) {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("read the report: %w", err)
		}
		return nil, nil, fmt.Errorf("%w: it begins %q", errNotPDF, clipBytes(head))
	}
	c := &reportCheck{v: reportsig.New(), trust: h.c.Reports.Trust, now: h.c.Now}
	return io.TeeReader(br, c.v), c, nil
}

// after is the report's check once read whole, as object metadata.
func (c *reportCheck) after() map[string]string {
	r := c.v.Result(c.trust, c.now())
	sig := kybflow.ReportSignature{Status: kybflow.SignatureStatus(r.Status), Signer: clipRunes(r.Signer, kybflow.MaxSignerLength),
		Reason: clipRunes(r.Reason, kybflow.MaxSignatureReasonLength)}
	if !r.SignedAt.IsZero() && sig.Status != kybflow.SignatureUnsigned {
		at := r.SignedAt.UTC().Truncate(time.Millisecond)
		sig.SignedAt = &at
	}
	if sig.Status == kybflow.SignatureUnsigned {
		sig.Signer = ""
	}
	c.sig = &sig
	md := map[string]string{kybflow.ObjectMetaSignature: string(sig.Status)}
	if sig.Signer != "" {
		md[kybflow.ObjectMetaSignatureSigner] = metaValue(sig.Signer, 512)
	}
	if sig.SignedAt != nil {
		md[kybflow.ObjectMetaSignatureSignedAt] = sig.SignedAt.Format(time.RFC3339)
	}
	return md
}

// metaValue is s as object metadata takes it: printable ASCII, with '%'
// and every other byte percent-encoded, cut to at most limit bytes, never
// with a space at either end.
func metaValue(s string, limit int) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	out := b.String()
	if len(out) > limit {
		out = out[:limit]
		if i := strings.LastIndexByte(out[max(0, len(out)-2):], '%'); i >= 0 {
			out = out[:len(out)-2+i] // no escape cut in two
		}
	}
	return strings.TrimSpace(out)
}

// clipRunes cuts s to at most n runes.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// clipBytes is the start of b, for a message.
func clipBytes(b []byte) string {
	return string(b[:min(len(b), 16)])
}

// isReport reports whether the artifact name is a report's.
func isReport(name string) bool {
	_, ok := kybflow.ArtifactReport(name)
	return ok
}
