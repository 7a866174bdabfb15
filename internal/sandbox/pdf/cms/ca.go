package cms

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// TestCA names the certificates of a generated test PKI.
type TestCA struct {
	Organization string // O of every certificate
	Root         string // CN of the root CA
	Intermediate string // CN of the intermediate CA
	Leaf         string // CN of the signing certificate
}

// Generate makes a three-level test PKI with fresh ECDSA P-256 keys: a
// root CA, an intermediate CA (path length 0) and a signing certificate
// (digital signature and non-repudiation, no extended key usage, which
// Go's x509 and NSS read as "any"). The certificates are valid from an hour
// before now (clock skew) for ten years (the root), five (the
// intermediate) and two (the signing certificate). It returns the root, the
// trust anchor, and a Signer with the chain signing certificate,
// intermediate.
func (ca TestCA) Generate(now time.Time) (*x509.Certificate, *Signer, error) {
	chain, key, err := ca.generate(now)
	if err != nil {
		return nil, nil, err
	}
	s, err := NewSigner(key, chain[:2]) // leaf, intermediate
	if err != nil {
		return nil, nil, err
	}
	return chain[2], s, nil
}

// GeneratePEM is Generate for a program's settings: it returns the chain
// in PEM (signing certificate, intermediate, root) and the signing key in
// PEM (PKCS #8), and the root.
func (ca TestCA) GeneratePEM(now time.Time) (chainPEM, keyPEM []byte, root *x509.Certificate, err error) {
	chain, key, err := ca.generate(now)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, c := range chain {
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("cms: encode key: %w", err)
	}
	return chainPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), chain[2], nil
}

// generate makes the PKI: the chain leaf, intermediate, root, and the
// leaf's key.
func (ca TestCA) generate(now time.Time) ([]*x509.Certificate, *ecdsa.PrivateKey, error) {
	start := now.Add(-time.Hour).UTC().Truncate(time.Second)
	type level struct {
		cn    string
		years int
		ca    bool
	}
	var (
		chain  []*x509.Certificate
		parent *x509.Certificate
		key    *ecdsa.PrivateKey // parent's
	)
	for _, l := range []level{{ca.Root, 10, true}, {ca.Intermediate, 5, true}, {ca.Leaf, 2, false}} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("cms: generate key of %q: %w", l.cn, err)
		}
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
		if err != nil {
			return nil, nil, fmt.Errorf("cms: serial of %q: %w", l.cn, err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial.Add(serial, big.NewInt(1)),
			Subject:               pkix.Name{CommonName: l.cn, Organization: []string{ca.Organization}},
			NotBefore:             start,
			NotAfter:              start.AddDate(l.years, 0, 0),
			BasicConstraintsValid: true,
			IsCA:                  l.ca,
		}
		if l.ca {
			tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
			if parent != nil {
				tmpl.MaxPathLenZero = true
			}
		} else {
			tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		}
		issuer, issuerKey := tmpl, k // the root signs itself
		if parent != nil {
			issuer, issuerKey = parent, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, k.Public(), issuerKey)
		if err != nil {
			return nil, nil, fmt.Errorf("cms: create certificate %q: %w", l.cn, err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("cms: parse certificate %q: %w", l.cn, err)
		}
		chain = append([]*x509.Certificate{cert}, chain...)
		parent, key = cert, k
	}
	return chain, key, nil
}
