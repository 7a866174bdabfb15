package reportsig_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/reportsig"
	"github.com/kybflow/kybflow/internal/sandbox/pdf"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/cms"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/pdftest"
)

// TestAgreesWithPdfsig: on the same files, signed by the sandbox's own
// CMS writer (not the library the verifier uses), the verifier and pdfsig
// (poppler, NSS) agree: a signed report is valid for both (the chain to
// its root for the verifier; pdfsig knows no root), one changed after
// signing is a digest mismatch for both, an unsigned one has no
// signature for either.
func TestAgreesWithPdfsig(t *testing.T) {
	t.Parallel()
	now := time.Now()
	root, signer, err := cms.TestCA{Organization: "kybflow tests", Root: "Report Root CA", Intermediate: "Report Intermediate CA",
		Leaf: "Report Signing"}.Generate(now)
	if err != nil {
		t.Fatal(err)
	}
	write := func(sign bool) []byte {
		var buf bytes.Buffer
		var w *pdf.Writer
		if sign {
			w = pdf.NewSignedWriter(&buf, pdf.Info{Title: "report"}, pdf.Signature{Time: now.Add(-time.Minute), Name: "Report Signing", Reason: "test", Sign: signer.Sign})
		} else {
			w = pdf.NewWriter(&buf, pdf.Info{Title: "report"})
		}
		var p pdf.Page
		p.Text(pdf.Regular, 10, 56, 780, "Sandbox AS: no sanction hit")
		if err := w.AddPage(&p); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	signed := write(true)
	tampered := bytes.Clone(signed)
	i := bytes.Index(tampered, []byte("/Title"))
	tampered[i+1] = 't' // inside the signed range, the file still parses
	trust := reportsig.NewTrust(root)

	for _, c := range []struct {
		name   string
		doc    []byte
		status reportsig.Status
		pdfsig string
	}{
		{"signed", signed, reportsig.Valid, "Signature is Valid"},
		{"tampered", tampered, reportsig.Invalid, "Digest Mismatch"},
		{"unsigned", write(false), reportsig.Unsigned, "does not contain any signatures"},
	} {
		r := check(c.doc, 4096, trust, now)
		out := pdftest.Signatures(t, c.doc)
		if r.Status != c.status || !strings.Contains(out, c.pdfsig) {
			t.Errorf("%s: verifier %+v; pdfsig:\n%s\nwant %s and %q", c.name, r, out, c.status, c.pdfsig)
		}
		if c.status == reportsig.Valid && !strings.Contains(out, "Total document signed") {
			t.Errorf("%s: pdfsig does not find the whole document signed, the verifier does:\n%s", c.name, out)
		}
	}
}
