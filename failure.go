package kybflow

import "slices"

// FailureCode classifies a failed lookup. Consumers must tolerate codes
// they do not know and fall back on FailedData.Retryable.
type FailureCode string

// The failure codes. "Retryable" means that sending the command again, with
// a new lookupId, may succeed; the same lookupId names the same lookup and
// is deduplicated.
const (
	// CodeInvalidCommand: the command is not JSON, too large, misses a
	// required field or has an invalid value. Not retryable: fix the
	// command.
	CodeInvalidCommand FailureCode = "invalid_command"
	// CodeInvalidIdentifier: the identifier fails the rules of its kind
	// (length, check digit). Not retryable: fix the identifier, or say
	// identifierType duns for a DUNS number.
	CodeInvalidIdentifier FailureCode = "invalid_identifier"
	// CodeRejected: the AML API refused the request (a 4xx other than 429:
	// unknown organization, a missing scope for an expand). Not retryable
	// as it is.
	CodeRejected FailureCode = "rejected"
	// CodeSessionFailed: the AML API opened the session but it failed or
	// was cancelled upstream. Retryable.
	CodeSessionFailed FailureCode = "session_failed"
	// CodeExpired: the results expired (2 hours after they became
	// available) before the worker stored them, or the lookup exceeded the
	// worker's deadline. Retryable.
	CodeExpired FailureCode = "expired"
	// CodeUnavailable: the AML API or our storage stayed unavailable
	// (5xx, 429, timeouts) until the worker gave up. Retryable, later.
	CodeUnavailable FailureCode = "unavailable"
	// CodeReportSignatureInvalid: a report's signature is not valid
	// (ReportSignature: invalid, unsigned or untrusted) and the worker's
	// policy (REPORT_SIGNATURE_POLICY=fail) refuses such a report as
	// evidence; nothing of the lookup is kept as its result. Not retryable
	// as it is: the API returns the same report; an operator looks at the
	// trust store (REPORT_TRUST_CA) or the report's signer first.
	CodeReportSignatureInvalid FailureCode = "report_signature_invalid"
)

// FailureCodes returns every failure code, in the order of the table in
// docs/contract.md.
func FailureCodes() []FailureCode {
	return []FailureCode{CodeInvalidCommand, CodeInvalidIdentifier, CodeRejected, CodeSessionFailed, CodeExpired, CodeUnavailable, CodeReportSignatureInvalid}
}

// Known reports whether c is one of FailureCodes.
func (c FailureCode) Known() bool {
	return slices.Contains(FailureCodes(), c)
}

// Retryable is the default FailedData.Retryable of code c: true for
// session_failed, expired and unavailable; false otherwise, and for unknown
// codes.
func (c FailureCode) Retryable() bool {
	return c == CodeSessionFailed || c == CodeExpired || c == CodeUnavailable
}
