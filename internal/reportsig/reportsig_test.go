package reportsig_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/reportsig"
)

// check writes doc through a Verifier in chunks of at most chunk bytes
// (0: at once) and returns its result.
func check(doc []byte, chunk int, trust *reportsig.Trust, now time.Time) reportsig.Result {
	v := reportsig.New()
	for len(doc) > 0 {
		n := len(doc)
		if chunk > 0 {
			n = min(n, chunk)
		}
		_, _ = v.Write(doc[:n])
		doc = doc[n:]
	}
	return v.Result(trust, now)
}

// TestResult: each status, from PDFs signed by the library (not by the
// code under test), whole and written a byte at a time.
func TestResult(t *testing.T) {
	t.Parallel()
	root := newCA(t, "Report Root CA")
	signer := root.leaf(t, "Report Signing")
	other := newCA(t, "Other Root CA")
	now := time.Now()
	signed := signedPDF(t, signer, []*x509.Certificate{root.cert}, "BT (report) Tj ET")

	altered := bytes.Clone(signed)
	altered[bytes.Index(altered, []byte("(report)"))+1] = 'R'
	appended := append(bytes.Clone(signed), []byte("5 0 obj\n<< /Evil true >>\nendobj\n%%EOF\n")...)
	// The hole moved: the range no longer names it.
	shifted := append([]byte("%PDF-1.7\n% x\n"), signed[len("%PDF-1.7\n"):]...)

	for _, c := range []struct {
		name   string
		doc    []byte
		trust  *reportsig.Trust
		status reportsig.Status
		reason string
	}{
		{"valid", signed, reportsig.NewTrust(root.cert), reportsig.Valid, ""},
		{"no trust store", signed, nil, reportsig.Untrusted, "no trust store"},
		{"another CA", signed, reportsig.NewTrust(other.cert), reportsig.Untrusted, "does not chain"},
		{"altered after signing", altered, reportsig.NewTrust(root.cert), reportsig.Invalid, "digest is not the one signed"},
		{"appended after signing", appended, reportsig.NewTrust(root.cert), reportsig.Invalid, "does not cover the file"},
		{"hole moved", shifted, reportsig.NewTrust(root.cert), reportsig.Invalid, "does not cover the file"},
		{"unsigned", []byte(unsignedPDF("BT (report) Tj ET")), reportsig.NewTrust(root.cert), reportsig.Unsigned, "no signature dictionary"},
		{"not a PDF", []byte("<html><body>502 Bad Gateway</body></html>"), reportsig.NewTrust(root.cert), reportsig.Invalid, "not a PDF"},
	} {
		for _, chunk := range []int{0, 1, 7, 4096} {
			r := check(c.doc, chunk, c.trust, now)
			if r.Status != c.status || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("%s (chunks of %d): %+v; want %s, reason with %q", c.name, chunk, r, c.status, c.reason)
			}
		}
	}

	r := check(signed, 0, reportsig.NewTrust(root.cert), now)
	if !strings.Contains(r.Signer, "CN=Report Signing") || r.SignedAt.IsZero() || r.SignedAt.After(now.Add(time.Second)) || now.Sub(r.SignedAt) > time.Minute {
		t.Errorf("valid: signer %q, signed at %s; want CN=Report Signing, about now (the library's signingTime)", r.Signer, r.SignedAt)
	}
	// A signing time in the future (the verifier's clock an hour behind).
	if r := check(signed, 0, reportsig.NewTrust(root.cert), now.Add(-time.Hour)); r.Status != reportsig.Invalid || !strings.Contains(r.Reason, "in the future") {
		t.Errorf("signed an hour ahead of the verifier: %+v", r)
	}
}

// TestRandomChunks: any split of a signed report reads the same.
func TestRandomChunks(t *testing.T) {
	t.Parallel()
	root := newCA(t, "Report Root CA")
	signed := signedPDF(t, root.leaf(t, "Report Signing"), []*x509.Certificate{root.cert}, strings.Repeat("q 1 0 0 1 0 0 cm Q /Contents <00> ", 500))
	trust := reportsig.NewTrust(root.cert)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		v := reportsig.New()
		doc := signed
		for len(doc) > 0 {
			n := min(len(doc), 1+rng.IntN(300))
			_, _ = v.Write(doc[:n])
			doc = doc[n:]
		}
		if r := v.Result(trust, time.Now()); r.Status != reportsig.Valid {
			t.Fatalf("random chunks: %+v", r)
		}
	}
}

func TestIsPDF(t *testing.T) {
	t.Parallel()
	v := reportsig.New()
	if v.IsPDF() {
		t.Error("IsPDF before any byte")
	}
	_, _ = v.Write([]byte("%PD"))
	_, _ = v.Write([]byte("F-1.4\n"))
	if !v.IsPDF() {
		t.Error("IsPDF after %PDF- in two writes: false")
	}
	if reportsig.IsPDF([]byte(" %PDF-1.4")) || reportsig.IsPDF([]byte("%PDF")) {
		t.Error("IsPDF accepts a header not at the start, or cut")
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"D:20261208013000Z":       "2026-12-08T01:30:00Z",
		"D:20261208013000+01'00'": "2026-12-08T00:30:00Z",
		"D:20261208013000-05'30":  "2026-12-08T07:00:00Z",
		"D:2026":                  "2026-01-01T00:00:00Z",
		"20261208":                "2026-12-08T00:00:00Z",
	} {
		got, err := reportsig.ParseDate(in)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("ParseDate(%q) = %s, %v; want %s", in, got.UTC().Format(time.RFC3339), err, want)
		}
	}
	for _, in := range []string{"", "D:", "D:20261308", "D:20261232", "D:2026120825", "D:20261208013000X"} {
		if _, err := reportsig.ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q): no error", in)
		}
	}
}

func TestLoadTrust(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := newCA(t, "Report Root CA")
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.pem")
	if err := os.WriteFile(broken, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := reportsig.LoadTrust([]string{good})
	if err != nil || tr.Len() != 1 {
		t.Fatalf("LoadTrust(ca.pem) = %d certificates, %v", tr.Len(), err)
	}
	for _, p := range []string{empty, broken, filepath.Join(dir, "missing.pem")} {
		if _, err := reportsig.LoadTrust([]string{good, p}); err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("LoadTrust with %s: %v; want an error naming it", filepath.Base(p), err)
		}
	}
}

// FuzzVerifier: any bytes, in any two writes, give a result without a
// panic, the same whatever the split; a signed report stays valid however
// it is split.
func FuzzVerifier(f *testing.F) {
	root := newCA(f, "Report Root CA")
	signed := signedPDF(f, root.leaf(f, "Report Signing"), []*x509.Certificate{root.cert}, "BT (report) Tj ET")
	trust := reportsig.NewTrust(root.cert)
	now := time.Now()
	f.Add(signed, 100)
	f.Add([]byte(unsignedPDF("x")), 3)
	f.Add([]byte("%PDF-1.7 /ByteRange [0 10 20 5] /Contents <3082> /M (D:2026"), 30)
	f.Add([]byte("%PDF-/Contents<"), 14)
	f.Fuzz(func(t *testing.T, doc []byte, split int) {
		split = min(max(split, 0), len(doc))
		whole := check(doc, 0, trust, now)
		v := reportsig.New()
		_, _ = v.Write(doc[:split])
		_, _ = v.Write(doc[split:])
		if got := v.Result(trust, now); got != whole {
			t.Fatalf("split at %d: %+v; whole: %+v", split, got, whole)
		}
		if whole.Status == reportsig.Valid && !bytes.Equal(doc, signed) {
			// Another valid document is possible only by changing bytes
			// the signature does not cover: none but the hole's padding.
			if len(doc) != len(signed) {
				t.Fatalf("a document of %d bytes is valid; the signed one has %d", len(doc), len(signed))
			}
		}
	})
}
