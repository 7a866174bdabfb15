package handler

import (
	"errors"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// maxRetryAfter caps the wait an API's Retry-After may impose on one
// message: a longer one is honoured by asking again later, not by holding
// the message for hours.
const maxRetryAfter = 5 * time.Minute

// classify is the one place where an error of the AML API becomes a
// reaction: retry (after delay, 0 meaning the consumer's backoff), or end
// the lookup with a failure code.
//
//	transient (5xx, 429, timeouts, connection errors) → retry; a 429's Retry-After is the delay
//	unreadable (a 2xx we cannot decode)                → retry in a minute, until LOOKUP_MAX_WAIT
//	expired (404 on a session or its content, 410)     → failed: expired
//	invalid identifier (ours, or the API's 400)        → failed: invalid_identifier
//	permanent without an HTTP status (TLS, DNS, config) → retry in a minute, until LOOKUP_MAX_WAIT
//	any other permanent error (4xx)                    → failed: rejected
func classify(err error) (retry bool, delay time.Duration, code kybflow.FailureCode) {
	if errors.Is(err, identifier.ErrInvalid) {
		return false, 0, kybflow.CodeInvalidIdentifier
	}
	var ae *amlapi.Error
	isAPI := errors.As(err, &ae)
	switch amlapi.ClassOf(err) {
	case amlapi.Transient:
		if isAPI {
			delay = min(ae.RetryAfter, maxRetryAfter)
		}
		return true, delay, ""
	case amlapi.Expired:
		return false, 0, kybflow.CodeExpired
	case amlapi.Unreadable:
		// Paid for and answered, but not in a shape we read: our model's
		// fault, not the lookup's. Wait for a fix; LOOKUP_MAX_WAIT bounds
		// the wait (then: unavailable).
		return true, unreadableRetry, ""
	}
	if isAPI && ae.Code == amlapi.CodeInvalidIdentifier {
		return false, 0, kybflow.CodeInvalidIdentifier
	}
	if isAPI && ae.StatusCode == 0 {
		// Permanent, but not the API's verdict on this lookup: our side of
		// the connection (a certificate, DNS, a redirect). It fails every
		// lookup alike and is fixed by an operator, so wait for the fix;
		// LOOKUP_MAX_WAIT bounds the wait (then: unavailable).
		return true, unreadableRetry, ""
	}
	return false, 0, kybflow.CodeRejected
}

// classifyStore classifies the error of storing one result. Storage
// trouble is always retried: the result is paid for, and it stays
// downloadable for two hours, after which the lookup fails as expired.
// Download errors are the API's, classified as such.
func classifyStore(err error) (bool, time.Duration, kybflow.FailureCode) {
	var se *storeError
	var sig *errSignature
	switch {
	case errors.As(err, &se):
		return true, 0, ""
	case errors.As(err, &sig):
		return false, 0, kybflow.CodeReportSignatureInvalid
	}
	return classify(err)
}
