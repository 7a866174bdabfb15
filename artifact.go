package kybflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ArtifactJSON is the artifact name of a lookup's JSON result.
const ArtifactJSON = "json"

// reportArtifactPrefix starts the artifact name of a report.
const reportArtifactPrefix = "report:"

// ContentTypePDF is the content type of a report; the JSON result's is
// ContentTypeJSON.
const ContentTypePDF = "application/pdf"

// ReportArtifactName is the artifact name of report r: "report:<r>", e.g.
// report:aml, report:certificate_of_incorporation.
func ReportArtifactName(r ReportType) string { return reportArtifactPrefix + string(r) }

// ArtifactReport returns the report type of a report artifact name, and
// false when name does not name a report.
func ArtifactReport(name string) (ReportType, bool) {
	r, ok := strings.CutPrefix(name, reportArtifactPrefix)
	if !ok || !validReportToken(r) {
		return "", false
	}
	return ReportType(r), true
}

// ArtifactContentType is the content type of the artifact called name:
// application/json for json, application/pdf for a report, "" otherwise.
func ArtifactContentType(name string) string {
	if name == ArtifactJSON || name == ArtifactDiff {
		return ContentTypeJSON
	}
	if _, ok := ArtifactReport(name); ok {
		return ContentTypePDF
	}
	return ""
}

// ValidArtifactName reports whether name is json or report:<token>, with a
// token of 1 to 64 of a-z 0-9 _.
func ValidArtifactName(name string) bool { return validArtifactName(name) }

// validArtifactName reports whether name is json or report:<token>; report
// types the contract does not list yet are allowed, since the AML API may
// add some.
func validArtifactName(name string) bool {
	_, isReport := ArtifactReport(name)
	return name == ArtifactJSON || name == ArtifactDiff || isReport
}

// validReportToken: 1 to 64 of a-z 0-9 _.
func validReportToken(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Artifact is one stored result of a lookup.
type Artifact struct {
	// Name is json or report:<type> (ReportArtifactName).
	Name string `json:"name"`
	// Bucket and Key locate the object (ObjectKeys.Key).
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Size is the object's size in bytes.
	Size int64 `json:"size"`
	// SHA256 is the SHA-256 of the object's content, in lower-case hex.
	SHA256 string `json:"sha256"`
	// ContentType is application/json or application/pdf.
	ContentType string `json:"contentType"`
	// Signature is what the worker found of a report's signature when it
	// stored it (report artifacts only; absent on json and diff, and on a
	// report stored by a worker that did not verify signatures).
	Signature *ReportSignature `json:"signature,omitempty"`
}

// SignatureStatus is the outcome of verifying a report's signature.
// Consumers must tolerate statuses they do not know and treat them as not
// valid.
type SignatureStatus string

// The signature statuses (docs/contract.md, "Signed reports").
const (
	// SignatureValid: the digest of the signed byte range, the CMS
	// signature and the certificate chain to the operator's trust store
	// (REPORT_TRUST_CA) all check out.
	SignatureValid SignatureStatus = "valid"
	// SignatureInvalid: the report has a signature, but the digest of the
	// signed byte range or the CMS signature is wrong (the report was
	// altered, or the signature is broken).
	SignatureInvalid SignatureStatus = "invalid"
	// SignatureUnsigned: the report has no signature dictionary.
	SignatureUnsigned SignatureStatus = "unsigned"
	// SignatureUntrusted: the signature is intact, but its certificate
	// chain does not lead to a CA of the trust store, or no trust store is
	// configured.
	SignatureUntrusted SignatureStatus = "untrusted"
)

// SignatureStatuses returns every signature status, in the order of the
// table in docs/contract.md.
func SignatureStatuses() []SignatureStatus {
	return []SignatureStatus{SignatureValid, SignatureInvalid, SignatureUnsigned, SignatureUntrusted}
}

// Known reports whether s is one of SignatureStatuses.
func (s SignatureStatus) Known() bool { return slices.Contains(SignatureStatuses(), s) }

// Limits of a ReportSignature.
const (
	// MaxSignerLength is the longest ReportSignature.Signer.
	MaxSignerLength = 1024
	// MaxSignatureReasonLength is the longest ReportSignature.Reason.
	MaxSignatureReasonLength = 256
)

// ReportSignature is the outcome of verifying a report's signature.
type ReportSignature struct {
	Status SignatureStatus `json:"status"`
	// Signer is the subject of the signing certificate as an RFC 4514
	// string (e.g. "CN=BankID AML Reports,O=BankID BankAxept AS,C=NO"),
	// when there is a signature whose certificate could be read.
	Signer string `json:"signer,omitempty"`
	// SignedAt is the signing time the signature claims (its signed
	// attribute), in UTC with at most millisecond precision; absent when
	// it claims none.
	SignedAt *time.Time `json:"signedAt,omitempty"`
	// Reason says why the status is not valid, in a few words and without
	// personal data (e.g. "byte range digest mismatch"); absent when valid.
	Reason string `json:"reason,omitempty"`
}

// check is NewEvent's check of a report signature: the schema's, and
// what each status allows.
func (s ReportSignature) check() error {
	var errs []error
	if !s.Status.Known() {
		errs = append(errs, fmt.Errorf("signature status %q: want one of %v", s.Status, SignatureStatuses()))
	}
	if n := utf8.RuneCountInString(s.Signer); n > MaxSignerLength {
		errs = append(errs, fmt.Errorf("signer is %d characters; the limit is %d", n, MaxSignerLength))
	}
	if n := utf8.RuneCountInString(s.Reason); n > MaxSignatureReasonLength {
		errs = append(errs, fmt.Errorf("signature reason is %d characters; the limit is %d", n, MaxSignatureReasonLength))
	}
	switch s.Status {
	case SignatureValid:
		if s.Reason != "" {
			errs = append(errs, errors.New("a valid signature with a reason"))
		}
		if s.Signer == "" {
			errs = append(errs, errors.New("a valid signature without a signer"))
		}
	case SignatureUnsigned:
		if s.Signer != "" || s.SignedAt != nil {
			errs = append(errs, errors.New("an unsigned report with a signer or a signing time"))
		}
	}
	if s.SignedAt != nil {
		if y := s.SignedAt.UTC().Year(); y < 1 || y > 9999 {
			errs = append(errs, fmt.Errorf("signedAt %s out of range", s.SignedAt))
		}
	}
	return errors.Join(errs...)
}

// normalize returns a copy of s with SignedAt in UTC, cut to the
// millisecond.
func (s *ReportSignature) normalize() *ReportSignature {
	if s == nil {
		return nil
	}
	c := *s
	c.SignedAt = msTimePtr(c.SignedAt)
	return &c
}

// check is NewEvent's check of an artifact (the schema's).
func (a Artifact) check() error {
	var errs []error
	if !validArtifactName(a.Name) {
		errs = append(errs, fmt.Errorf("artifact name %q: want json, diff or report:<type>", a.Name))
	}
	if a.Bucket == "" || len(a.Bucket) > 63 {
		errs = append(errs, fmt.Errorf("artifact %s: bucket %q: want 1 to 63 characters", a.Name, a.Bucket))
	}
	if a.Key == "" || len(a.Key) > 1024 {
		errs = append(errs, fmt.Errorf("artifact %s: key: want 1 to 1024 bytes", a.Name))
	}
	if a.Size < 0 {
		errs = append(errs, fmt.Errorf("artifact %s: negative size", a.Name))
	}
	if !validSHA256(a.SHA256) {
		errs = append(errs, fmt.Errorf("artifact %s: sha256 %q: want 64 lower-case hex digits", a.Name, a.SHA256))
	}
	if a.ContentType == "" || utf8.RuneCountInString(a.ContentType) > 255 {
		errs = append(errs, fmt.Errorf("artifact %s: contentType: want 1 to 255 characters", a.Name))
	}
	if a.Signature != nil {
		if _, isReport := ArtifactReport(a.Name); !isReport {
			errs = append(errs, fmt.Errorf("artifact %s: a signature on an artifact that is not a report", a.Name))
		}
		if err := a.Signature.check(); err != nil {
			errs = append(errs, fmt.Errorf("artifact %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// DefaultKeyPrefix is the object key prefix when none is configured.
const DefaultKeyPrefix = "lookups"

// ObjectKeys names the objects a lookup stores:
//
//	<prefix>/<lookupId>/<file>
//
// where <file> is the artifact name with ':' as '-' and the extension of
// its content type: json.json for json, report-aml.pdf for report:aml,
// report-certificate_of_incorporation.pdf for
// report:certificate_of_incorporation. Keys depend on nothing else, so a
// retried store overwrites the same object, and all of a lookup's objects
// share one prefix. The zero value uses DefaultKeyPrefix.
type ObjectKeys struct {
	// Prefix is one or more '/'-separated segments of A-Z a-z 0-9 . _ -
	// (not "." or ".."), without a leading or trailing '/'.
	Prefix string
}

// Validate checks the prefix ("" means DefaultKeyPrefix).
func (k ObjectKeys) Validate() error {
	if k.Prefix == "" {
		return nil
	}
	if len(k.Prefix) > 256 {
		return fmt.Errorf("object key prefix %q: longer than 256 characters", k.Prefix)
	}
	for _, seg := range strings.Split(k.Prefix, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("object key prefix %q: empty, . or .. segment", k.Prefix)
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !tokenByte(c) && c != '.' {
				return fmt.Errorf("object key prefix %q: character %q not allowed; want A-Z a-z 0-9 . _ -", k.Prefix, c)
			}
		}
	}
	return nil
}

// Key is the object key of artifact name of a lookup. It fails for an
// invalid lookupId or artifact name, or an invalid prefix.
func (k ObjectKeys) Key(lookupID, name string) (string, error) {
	if err := k.Validate(); err != nil {
		return "", err
	}
	if !ValidLookupKey(lookupID) {
		return "", fmt.Errorf("object key: invalid lookup key %q", lookupID)
	}
	var file string
	switch r, isReport := ArtifactReport(name); {
	case name == ArtifactJSON:
		file = "json.json"
	case name == ArtifactDiff:
		file = "diff.json"
	case isReport:
		file = "report-" + string(r) + ".pdf"
	default:
		return "", fmt.Errorf("object key: unknown artifact name %q", name)
	}
	prefix := k.Prefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return prefix + "/" + lookupID + "/" + file, nil
}

// LookupPrefix is the key prefix of every object of a lookup,
// "<prefix>/<lookupId>/", for listing or deleting them.
func (k ObjectKeys) LookupPrefix(lookupID string) string {
	prefix := k.Prefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return prefix + "/" + lookupID + "/"
}

// User metadata (S3 x-amz-meta-*) of every stored artifact: what it is and
// which lookup it belongs to. Never the command's metadata or
// correlationId, which may be personal.
const (
	ObjectMetaLookupID  = "lookup-id"
	ObjectMetaSessionID = "session-id"
	ObjectMetaArtifact  = "artifact"
)

// User metadata of a stored report: its ReportSignature, set once the
// report is read whole (the status; the signer percent-encoded outside
// printable ASCII; the signing time in RFC 3339).
const (
	ObjectMetaSignature         = "signature"
	ObjectMetaSignatureSigner   = "signature-signer"
	ObjectMetaSignatureSignedAt = "signature-signed-at"
)

// ObjectMetadata is the user metadata of an artifact object.
func ObjectMetadata(lookupID, sessionID, artifactName string) map[string]string {
	return map[string]string{
		ObjectMetaLookupID:  lookupID,
		ObjectMetaSessionID: sessionID,
		ObjectMetaArtifact:  artifactName,
	}
}
