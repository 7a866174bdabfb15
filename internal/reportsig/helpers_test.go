package reportsig_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// ca is a certificate authority of the tests: a root that issues leaves.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial atomic.Int64

func newCA(t testing.TB, name string) ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: name, Organization: []string{"kybflow tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca{cert, key}
}

// leaf issues a signing certificate.
func (c ca) leaf(t testing.TB, name string) ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: name, Organization: []string{"kybflow tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca{cert, key}
}

// holeLen is the hex digits reserved for the signature.
const holeLen = 8192

// unsignedPDF is a small PDF without a signature.
func unsignedPDF(body string) string {
	return "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" +
		"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n" +
		"3 0 obj\n<< /Length " + fmt.Sprint(len(body)) + " >>\nstream\n" + body + "\nendstream\nendobj\n" +
		"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
}

// signedPDF appends a signature dictionary to an unsigned PDF, as an
// incremental update would, and signs its byte range with the library
// (a CMS made by other code than the verifier's), by signer with chain.
func signedPDF(t testing.TB, signer ca, chain []*x509.Certificate, body string) []byte {
	t.Helper()
	pre := unsignedPDF(body) + "4 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange "
	const rangeWidth = len("[0000000000 0000000000 0000000000 0000000000]")
	mid := " /M (D:20261208010000Z) /Contents <"
	post := "> >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
	a := len(pre) + rangeWidth + len(mid) - 1 // the '<'
	c := a + 1 + holeLen + 1                  // after the '>'
	d := len(post) - 1
	br := fmt.Sprintf("[%010d %010d %010d %010d]", 0, a, c, d)
	doc := []byte(pre + br + mid + strings.Repeat("0", holeLen) + post)
	if len(doc) != c+d {
		t.Fatalf("layout: %d bytes, want %d", len(doc), c+d)
	}
	content := append(append([]byte{}, doc[:a]...), doc[c:]...)
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(signer.cert, signer.key, chain, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(der)
	if len(h) > holeLen {
		t.Fatalf("signature of %d hex digits, hole of %d", len(h), holeLen)
	}
	copy(doc[a+1:], h)
	return doc
}
