package cms_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/kybflow/kybflow/internal/sandbox/pdf/cms"
)

var ca = cms.TestCA{Organization: "cms test", Root: "cms root", Intermediate: "cms intermediate", Leaf: "cms signer"}

var (
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
)

// verify parses sig, checks it is detached and carries exactly the PAdES
// B-B signed attributes, and verifies it over content against root.
func verify(t *testing.T, sig, content []byte, root *x509.Certificate) *pkcs7.PKCS7 {
	t.Helper()
	p7, err := pkcs7.Parse(sig)
	if err != nil {
		t.Fatalf("pkcs7.Parse: %v", err)
	}
	if len(p7.Content) != 0 {
		t.Errorf("the signature is not detached: %d bytes of content", len(p7.Content))
	}
	if len(p7.Signers) != 1 {
		t.Fatalf("%d signers", len(p7.Signers))
	}
	var types []string
	for _, a := range p7.Signers[0].AuthenticatedAttributes {
		types = append(types, a.Type.String())
	}
	slices.Sort(types)
	want := []string{oidContentType.String(), oidMessageDigest.String(), oidSigningCertificateV2.String()}
	slices.Sort(want)
	if !slices.Equal(types, want) {
		t.Errorf("signed attributes %v, want %v (and no signing time %v)", types, want, oidSigningTime)
	}
	p7.Content = content
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if err := p7.VerifyWithChain(pool); err != nil {
		t.Fatalf("VerifyWithChain: %v", err)
	}
	return p7
}

func TestSignECDSA(t *testing.T) {
	root, s, err := ca.Generate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("the byte range of a PDF")
	digest := sha256.Sum256(content)
	sig, err := s.Sign(digest[:])
	if err != nil {
		t.Fatal(err)
	}
	p7 := verify(t, sig, content, root)

	// The chain is the leaf and the intermediate; the root is the anchor.
	var cns []string
	for _, c := range p7.Certificates {
		cns = append(cns, c.Subject.CommonName)
	}
	if !slices.Equal(cns, []string{"cms signer", "cms intermediate"}) {
		t.Errorf("certificates %v", cns)
	}
	// ESS signing-certificate-v2 holds the SHA-256 of the signing
	// certificate.
	var sc struct{ Certs []struct{ CertHash []byte } }
	if err := p7.UnmarshalSignedAttribute(oidSigningCertificateV2, &sc); err != nil {
		t.Fatalf("signing-certificate-v2: %v", err)
	}
	if h := sha256.Sum256(s.Certificate().Raw); len(sc.Certs) != 1 || !bytes.Equal(sc.Certs[0].CertHash, h[:]) {
		t.Errorf("signing-certificate-v2 %x, want the leaf's hash %x", sc.Certs, h)
	}
	if again, _ := s.Sign(digest[:]); !bytes.Equal(again, sig) {
		t.Error("two signatures of one digest differ")
	}
	// Other content: a digest mismatch.
	p7.Content = []byte("other content")
	var mismatch *pkcs7.MessageDigestMismatchError
	if err := p7.Verify(); !errors.As(err, &mismatch) {
		t.Errorf("other content: %v", err)
	}
	if _, err := s.Sign(digest[:20]); err == nil {
		t.Error("a 20-byte digest was signed")
	}
}

func TestSignRSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaRoot := selfSigned(t, key)
	s, err := cms.NewSigner(key, []*x509.Certificate{rsaRoot})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("signed with RSA")
	digest := sha256.Sum256(content)
	sig, err := s.Sign(digest[:])
	if err != nil {
		t.Fatal(err)
	}
	verify(t, sig, content, rsaRoot)
}

func selfSigned(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "self-signed signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewSignerRejects(t *testing.T) {
	_, s, err := ca.Generate(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	chain := s.Chain()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // G403: a weak key that must be refused
	for name, tc := range map[string]struct {
		key   crypto.Signer
		chain []*x509.Certificate
	}{
		"P-384":          {p384, []*x509.Certificate{selfSigned(t, p384)}},
		"RSA-1024":       {rsa1024, []*x509.Certificate{selfSigned(t, rsa1024)}},
		"another key":    {p256, chain},
		"no certificate": {p256, nil},
		"wrong order":    {p256, []*x509.Certificate{selfSigned(t, p256), chain[1]}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := cms.NewSigner(tc.key, tc.chain); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := cms.NewSigner(p384, []*x509.Certificate{selfSigned(t, p384)}); !errors.Is(err, cms.ErrKey) {
		t.Errorf("P-384: %v, want ErrKey", err)
	}
}
