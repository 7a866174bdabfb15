// Package cms writes the CMS SignedData (RFC 5652) of a PDF signature,
// PAdES baseline B-B (ETSI EN 319 142-1, /SubFilter /ETSI.CAdES.detached):
// detached (no encapsulated content), SHA-256, with exactly the signed
// attributes contentType, messageDigest and ESS signing-certificate-v2
// (RFC 5035), and the signer's certificate chain in the certificates field.
//
// Why not a library: the sandbox streams reports of any size (100 MB and
// more) and hashes them as they are written, so it has the digest of the
// content, never the content. github.com/smallstep/pkcs7, which the worker
// uses to verify, signs only content held in memory and always adds a
// signingTime attribute, which PAdES B-B does not allow (the time goes in the
// signature dictionary's /M). So the structure is written here with
// encoding/asn1; every digest is crypto/sha256 and every signature is the
// crypto.Signer's.
package cms

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
	"fmt"
	"io"
	"math/big"
	"slices"
)

// Object identifiers.
var (
	oidData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSAWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidRSAEncryption        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
)

// ErrKey is wrapped by the errors of NewSigner about the key.
var ErrKey = errors.New("cms: unsupported or mismatched signing key")

// Signer makes detached CMS signatures with one key and certificate chain.
// It is safe for concurrent use if its crypto.Signer is.
type Signer struct {
	key    crypto.Signer
	chain  []*x509.Certificate
	sigAlg pkix.AlgorithmIdentifier
	certID []byte // DER of the SigningCertificateV2 value
}

// NewSigner returns a Signer for key, whose certificate is chain[0]; the
// rest of chain are its issuers, in order (the root may be left out). The
// key is an ECDSA key on P-256 or an RSA key of at least 2048 bits.
func NewSigner(key crypto.Signer, chain []*x509.Certificate) (*Signer, error) {
	if len(chain) == 0 {
		return nil, errors.New("cms: no certificate")
	}
	leaf := chain[0]
	var alg pkix.AlgorithmIdentifier
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA on %s, want P-256", ErrKey, pub.Curve.Params().Name)
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256} // parameters absent (RFC 5758)
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA of %d bits, want at least 2048", ErrKey, pub.N.BitLen())
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue} // RFC 3370 §3.2
	default:
		return nil, fmt.Errorf("%w: %T, want ECDSA P-256 or RSA", ErrKey, pub)
	}
	if eq, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("%w: the key is not the key of the certificate %q", ErrKey, leaf.Subject)
	}
	for i := 1; i < len(chain); i++ {
		if err := chain[i-1].CheckSignatureFrom(chain[i]); err != nil {
			return nil, fmt.Errorf("cms: certificate %d (%q) is not issued by certificate %d (%q): %w",
				i-1, chain[i-1].Subject, i, chain[i].Subject, err)
		}
	}
	// ESS signing-certificate-v2: SigningCertificateV2 ::= SEQUENCE { certs
	// SEQUENCE OF ESSCertIDv2 }, one ESSCertIDv2 ::= SEQUENCE { certHash }
	// for the signing certificate. hashAlgorithm is SHA-256, the DEFAULT, so
	// DER leaves it out; issuerSerial is OPTIONAL and left out, as the CAdES
	// baseline recommends (the sid already names issuer and serial).
	h := sha256.Sum256(leaf.Raw)
	type essCertIDv2 struct{ CertHash []byte }
	type signingCertificateV2 struct{ Certs []essCertIDv2 }
	certID, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{CertHash: h[:]}}})
	if err != nil {
		return nil, fmt.Errorf("cms: encode signing-certificate-v2: %w", err)
	}
	return &Signer{key: key, chain: slices.Clone(chain), sigAlg: alg, certID: certID}, nil
}

// Certificate is the signing certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.chain[0] }

// Chain is the certificate chain (a fresh slice): the signing certificate,
// then its issuers.
func (s *Signer) Chain() []*x509.Certificate { return slices.Clone(s.chain) }

// random is the randomness source given to the key: none for the
// standard library's ECDSA and RSA keys, so that they sign
// deterministically; crypto/rand for any other crypto.Signer.
func (s *Signer) random() io.Reader {
	switch s.key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
		return nil
	}
	return rand.Reader
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, built by hand
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue // [0] IMPLICIT CertificateSet, built by hand
	SignerInfos      []signerInfo  `asn1:"set"`
}

// encapContentInfo without eContent: the signature is detached.
type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerialNumber
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue // [0] IMPLICIT SignedAttributes, built by hand
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type issuerAndSerialNumber struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF one value
}

// Sign returns the DER of a ContentInfo holding a SignedData over content
// whose SHA-256 is digest: detached, with the signed attributes
// contentType (id-data), messageDigest and signing-certificate-v2. With
// the standard library's keys the same digest gives the same bytes: ECDSA
// signs deterministically (RFC 6979) when given no randomness, and RSA
// PKCS #1 v1.5 is deterministic.
func (s *Signer) Sign(digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("cms: digest of %d bytes, want a SHA-256 (%d)", len(digest), sha256.Size)
	}
	set := func(der []byte) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: der}
	}
	ct, err := asn1.Marshal(oidData)
	if err != nil {
		return nil, fmt.Errorf("cms: encode content type: %w", err)
	}
	md, err := asn1.Marshal(digest)
	if err != nil {
		return nil, fmt.Errorf("cms: encode message digest: %w", err)
	}
	var attrs [][]byte
	for _, a := range []attribute{
		{oidContentType, set(ct)}, {oidMessageDigest, set(md)}, {oidSigningCertificateV2, set(s.certID)},
	} {
		der, err := asn1.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("cms: encode attribute %v: %w", a.Type, err)
		}
		attrs = append(attrs, der)
	}
	// DER orders a SET OF by the encodings of its elements (X.690 11.6).
	slices.SortFunc(attrs, bytes.Compare)
	attrBytes := bytes.Join(attrs, nil)

	// The signature covers the DER of the attributes with the SET OF tag,
	// not the [0] IMPLICIT tag they carry in SignerInfo (RFC 5652 5.4).
	toSign, err := asn1.Marshal(set(attrBytes))
	if err != nil {
		return nil, fmt.Errorf("cms: encode signed attributes: %w", err)
	}
	h := sha256.Sum256(toSign)
	sig, err := s.key.Sign(s.random(), h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("cms: sign: %w", err)
	}

	var certs []byte
	for _, c := range s.chain {
		certs = append(certs, c.Raw...)
	}
	leaf := s.chain[0]
	sha256Alg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256} // parameters absent (RFC 5754)
	sd := signedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{sha256Alg},
		EncapContentInfo: encapContentInfo{EContentType: oidData},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: leaf.RawIssuer}, Serial: leaf.SerialNumber},
			DigestAlgorithm:    sha256Alg,
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: attrBytes},
			SignatureAlgorithm: s.sigAlg,
			Signature:          sig,
		}},
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("cms: encode SignedData: %w", err)
	}
	out, err := asn1.Marshal(contentInfo{ContentType: oidSignedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		return nil, fmt.Errorf("cms: encode ContentInfo: %w", err)
	}
	return out, nil
}
