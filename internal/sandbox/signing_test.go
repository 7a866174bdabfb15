package sandbox_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/sandbox/pdf"
	"github.com/kybflow/kybflow/internal/sandbox/pdf/pdftest"
)

func TestReportIdentifiersAreValid(t *testing.T) {
	t.Parallel()
	ids := sandbox.ReportIdentifiers()
	if len(ids) != 12 {
		t.Fatalf("%d report identifiers", len(ids))
	}
	seen := map[string]bool{}
	for _, s := range append(sandbox.SpecialIdentifiers(), sandbox.ChangingIdentifiers()...) {
		seen[string(s.Country)+s.Identifier] = true
	}
	for _, s := range ids {
		k, _ := identifier.ForCountry(string(s.Country))
		if canon, err := identifier.Normalize(k, s.Identifier); err != nil || canon != s.Identifier {
			t.Errorf("%s %s: %q, %v", s.Country, s.Identifier, canon, err)
		}
		if seen[string(s.Country)+s.Identifier] {
			t.Errorf("%s %s: twice among the special, changing and report identifiers", s.Country, s.Identifier)
		}
		seen[string(s.Country)+s.Identifier] = true
	}
}

// trustPool is a pool holding the PEM certificates of pemBytes.
func trustPool(t *testing.T, pemBytes []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("no certificate in %q", pemBytes)
	}
	return pool
}

// parseCMS reads the signature of a signed report.
func parseCMS(t *testing.T, report []byte) (pdf.SignatureField, *pkcs7.PKCS7) {
	t.Helper()
	f, err := pdf.ParseSignature(report)
	if err != nil {
		t.Fatalf("ParseSignature: %v", err)
	}
	p7, err := pkcs7.Parse(f.Contents)
	if err != nil {
		t.Fatalf("pkcs7.Parse: %v", err)
	}
	p7.Content = f.Signed(report)
	return f, p7
}

// TestReportSignatures downloads the AML report of an ordinary identifier
// and of each report identifier, in each of the three countries' sessions
// and a beneficial owners session, and checks each the way the worker and
// pdfsig will.
func TestReportSignatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond, ReportInterval: 20 * time.Millisecond})
	sb := e.srv.Sandbox()

	// The trust anchor: served without a token, the same as in Go.
	resp, caPEM := e.do(http.MethodGet, sandbox.CAPath, "", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(caPEM, sb.ReportCAPEM()) {
		t.Fatalf("GET %s: %d %q", sandbox.CAPath, resp.StatusCode, caPEM)
	}
	if ca := sb.ReportCA(); !ca.IsCA || !bytes.Equal(ca.RawSubject, ca.RawIssuer) || ca.CheckSignatureFrom(ca) != nil {
		t.Fatalf("the trust anchor %q is not a self-signed CA", ca.Subject)
	}
	trusted := trustPool(t, caPEM)

	download := func(t *testing.T, create string, kind amlapi.Kind, id string) ([]byte, amlapi.Session) {
		t.Helper()
		sid := e.create(create, amlapi.CreateSessionRequest{Identifier: id, Reports: []amlapi.ReportType{amlapi.ReportAML}})
		s := e.wait(kind, sid, 2*time.Second, done)
		if s.Status != amlapi.SessionDone {
			t.Fatalf("session %s", s.Status)
		}
		resp, body := e.do(http.MethodGet, s.Reports[amlapi.ReportAML].Link, e.token, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != amlapi.ContentTypePDF || resp.ContentLength != int64(len(body)) {
			t.Fatalf("report: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
		}
		return body, s
	}
	org := func(c amlapi.Country) (string, amlapi.Kind) {
		return amlapi.CreateOrganizationPath(c), amlapi.KindOrganization
	}

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		path, kind := org(amlapi.NO)
		report, s := download(t, path, kind, "923609016")
		pdftest.Structure(t, report, 2)
		pdftest.Tools(t, report)
		f, p7 := parseCMS(t, report)
		if err := p7.VerifyWithChain(trusted); err != nil {
			t.Errorf("VerifyWithChain(/_sandbox/ca.pem): %v", err)
		}
		if cn := p7.GetOnlySigner().Subject.CommonName; cn != "BankID AML Sandbox Report Signing" {
			t.Errorf("signer %q", cn)
		}
		ready := s.Reports[amlapi.ReportAML].Expires.Add(-sb.Config().Lifetime)
		if f.SubFilter != "ETSI.CAdES.detached" || f.Time.Sub(ready).Abs() > time.Second {
			t.Errorf("SubFilter %q, /M %v, want the report's ready time %v", f.SubFilter, f.Time, ready)
		}
		if !bytes.Contains(report, []byte("Signed by the sandbox's test CA")) {
			t.Error("page 1 does not say how the report is signed")
		}
		out := pdftest.Signatures(t, report)
		for _, want := range []string{"Signature Validation: Signature is Valid.",
			"Signer Certificate Common Name: BankID AML Sandbox Report Signing", "Total document signed"} {
			if !strings.Contains(out, want) {
				t.Errorf("pdfsig lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("tampered", func(t *testing.T) {
		t.Parallel()
		path, kind := org(amlapi.SE)
		report, _ := download(t, path, kind, sandbox.ReportTamperedSE)
		pdftest.Structure(t, report, 2)
		_, p7 := parseCMS(t, report)
		var mismatch *pkcs7.MessageDigestMismatchError
		if err := p7.VerifyWithChain(trusted); !errors.As(err, &mismatch) {
			t.Errorf("VerifyWithChain = %v, want a digest mismatch", err)
		}
		if out := pdftest.Signatures(t, report); !strings.Contains(out, "Signature Validation: Digest Mismatch.") {
			t.Errorf("pdfsig:\n%s", out)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		report, _ := download(t, amlapi.CreateBeneficialPath, amlapi.KindBeneficial, sandbox.ReportUntrustedNO)
		pdftest.Structure(t, report, 2)
		_, p7 := parseCMS(t, report)
		if err := p7.Verify(); err != nil {
			t.Errorf("the untrusted signature is not itself valid: %v", err)
		}
		if err := p7.VerifyWithChain(trusted); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("VerifyWithChain(/_sandbox/ca.pem) = %v, want a chain error", err)
		}
		if issuer := p7.GetOnlySigner().Issuer.CommonName; !strings.Contains(issuer, "Untrusted") {
			t.Errorf("issuer %q", issuer)
		}
		if out := pdftest.Signatures(t, report); !strings.Contains(out, "Signature Validation: Signature is Valid.") {
			t.Errorf("pdfsig:\n%s", out)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		t.Parallel()
		path, kind := org(amlapi.FI)
		report, _ := download(t, path, kind, sandbox.ReportUnsignedFI)
		pdftest.Structure(t, report, 2)
		pdftest.Tools(t, report)
		if _, err := pdf.ParseSignature(report); !errors.Is(err, pdf.ErrMalformed) || bytes.Contains(report, []byte("/ByteRange")) {
			t.Errorf("an unsigned report has a signature: %v", err)
		}
		if !bytes.Contains(report, []byte("Not signed.")) {
			t.Error("page 1 does not say the report is not signed")
		}
	})
	t.Run("not a PDF", func(t *testing.T) {
		t.Parallel()
		path, kind := org(amlapi.NO)
		report, _ := download(t, path, kind, sandbox.ReportNotPDFNO)
		if bytes.HasPrefix(report, []byte("%PDF-")) || !bytes.HasPrefix(report, []byte("<!DOCTYPE html>")) {
			t.Errorf("report %q", report)
		}
	})
}

// TestGivenSigningCertificate: a sandbox given a key and chain signs with
// them and serves the chain's last certificate as the trust anchor.
func TestGivenSigningCertificate(t *testing.T) {
	t.Parallel()
	certPEM, keyPEM, root := givenChain(t)
	e := newEnv(t, sandbox.Config{SigningCert: certPEM, SigningKey: keyPEM, ReadyAfter: 20 * time.Millisecond})
	if !e.srv.Sandbox().ReportCA().Equal(root) {
		t.Fatalf("trust anchor %q, want the given root", e.srv.Sandbox().ReportCA().Subject)
	}
	sid := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "974760673", Reports: []amlapi.ReportType{"aml"}})
	s := e.wait(amlapi.KindOrganization, sid, 2*time.Second, done)
	_, report := e.do(http.MethodGet, s.Reports[amlapi.ReportAML].Link, e.token, nil)
	_, p7 := parseCMS(t, report)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if err := p7.VerifyWithChain(pool); err != nil {
		t.Errorf("VerifyWithChain(given root): %v", err)
	}
	if cn := p7.GetOnlySigner().Subject.CommonName; cn != "given signer" {
		t.Errorf("signer %q", cn)
	}
	if len(p7.Certificates) != 1 {
		t.Errorf("%d certificates in the CMS, want the leaf alone (the self-signed root is the anchor)", len(p7.Certificates))
	}

	// Both or neither; a key that is not the certificate's.
	otherCert, otherKey, _ := givenChain(t)
	for _, tc := range []struct {
		cfg  sandbox.Config
		want string
	}{
		{sandbox.Config{SigningCert: certPEM}, "SANDBOX_SIGNING_KEY"},
		{sandbox.Config{SigningKey: keyPEM}, "SANDBOX_SIGNING_CERT"},
		{sandbox.Config{SigningCert: certPEM, SigningKey: otherKey}, "not the key of the certificate"},
		{sandbox.Config{SigningCert: []byte("no pem"), SigningKey: keyPEM}, "no PEM certificate"},
		{sandbox.Config{SigningCert: otherCert, SigningKey: []byte("-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n")}, "PUBLIC KEY"},
	} {
		_, err := sandbox.New(tc.cfg)
		if !errors.Is(err, sandbox.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v, want ErrInvalidConfig with %q", err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY-----") {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}

// givenChain makes a root and a leaf (ECDSA P-256) and returns the PEM of
// leaf then root, the leaf's key, and the root.
func givenChain(t *testing.T) (certPEM, keyPEM []byte, root *x509.Certificate) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "given root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(rootDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "given signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, leafKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})...)
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), root
}
