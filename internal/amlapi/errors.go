package amlapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kybflow/kybflow/identifier"
)

// Errors are classified once, here: every error the Client returns is an
// *Error carrying its Class, and ClassOf classifies any other error the
// same way. Callers map a Class to their reaction (retry later, give up,
// open a new session) in one place of their own.

// Class says how a caller should react to an error.
type Class int

// The error classes. The zero Class is Permanent, so an error nobody
// classified is never retried.
const (
	// Permanent: the request is wrong or not allowed (4xx, an invalid
	// identifier, a bad configuration, an answer we cannot read). Retrying
	// the same request will fail the same way.
	Permanent Class = iota
	// Transient: the API or the network is in trouble (5xx, 408, 429,
	// timeouts, refused or reset connections) or the work was interrupted.
	// The same request may succeed later.
	Transient
	// Expired: the session or result is gone: past its lifetime (see
	// Lifetime) or unknown (404 on a session or its content, 410). Open a
	// new session.
	Expired
	// Unreadable: the API answered 2xx with a body this client cannot read
	// (model.go may be wrong about its shape). It is no verdict on the
	// request: a caller retries later, and an operator corrects the model.
	// The error's Shape says what the body looked like.
	Unreadable
)

// String returns "permanent", "transient", "expired" or "unreadable".
func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Expired:
		return "expired"
	case Unreadable:
		return "unreadable"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ErrForeignLink is wrapped by the error of a Download whose link points
// away from the API host: the client never sends its access token to
// another host.
var ErrForeignLink = errors.New("link is not on the API host")

// Error is the error of every Client call.
type Error struct {
	// Op is the operation, e.g. "create organization session NO" or
	// "get organization session: fetch token".
	Op string
	// StatusCode is the HTTP status of the answer, 0 when there was none
	// (a network error, a timeout, a local validation error).
	StatusCode int
	// Class says how to react; see ClassOf.
	Class Class
	// Code, Message and TraceID come from the API's error body (ErrorBody)
	// or, for the token endpoint, the OAuth2 error and error_description.
	// They are empty when the answer had no readable body.
	Code, Message, TraceID string
	// Shape is, for an Unreadable answer, the outline of its body (keys and
	// the types of their values, no values: see Shape).
	Shape string
	// RetryAfter is the wait the answer asked for (Retry-After), or 0.
	RetryAfter time.Duration
	// Err is the underlying error, if any.
	Err error

	// ambiguous: the request may have reached the API and been acted on
	// even though we got no success answer (a timeout, a reset, a 500).
	ambiguous bool
}

// Error reads like "amlapi: create organization session NO: 400
// INVALID_IDENTIFIER: check digit is wrong (trace abc)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("amlapi: ")
	b.WriteString(e.Op)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %d", e.StatusCode)
		switch {
		case e.Code != "":
			b.WriteString(" " + e.Code)
		case e.Message == "" && e.Err == nil:
			b.WriteString(" " + http.StatusText(e.StatusCode))
		}
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.TraceID != "" {
		b.WriteString(" (trace " + e.TraceID + ")")
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf classifies any error:
//
//   - an *Error (anywhere in the chain): its Class;
//   - identifier.ErrInvalid: Permanent;
//   - context.Canceled and context.DeadlineExceeded: Transient. A
//     cancelled call is not a verdict on the request: the caller gave up or
//     is shutting down, and the same request may succeed when tried again.
//     A caller that cancelled on purpose knows it (check ctx.Err() first);
//     a worker should hand the message back, not drop it;
//   - timeouts, refused, reset or aborted connections, broken pipes,
//     unreachable networks, temporary DNS failures, a connection closed
//     mid-answer (io.ErrUnexpectedEOF, or io.EOF from an HTTP exchange):
//     Transient;
//   - TLS certificate errors and unknown hosts: Permanent (configuration);
//   - anything else, and nil: Permanent.
func ClassOf(err error) Class {
	if err == nil {
		return Permanent
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	if errors.Is(err, identifier.ErrInvalid) {
		return Permanent
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Transient
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return Transient
	}
	for _, errno := range []syscall.Errno{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
	} {
		if errors.Is(err, errno) {
			return Transient
		}
	}
	var (
		certErr      *tls.CertificateVerificationError
		authorityErr x509.UnknownAuthorityError
		hostnameErr  x509.HostnameError
		invalidErr   x509.CertificateInvalidError
	)
	if errors.As(err, &certErr) || errors.As(err, &authorityErr) || errors.As(err, &hostnameErr) || errors.As(err, &invalidErr) {
		return Permanent
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound && !dnsErr.IsTemporary && !dnsErr.IsTimeout {
			return Permanent
		}
		return Transient
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return Transient
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return Transient
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) && errors.Is(urlErr.Err, io.EOF) {
		return Transient // the server closed the connection without answering
	}
	return Permanent
}

// transportClass classifies an error of the HTTP exchange itself (sending
// the request, or reading the answer): Transient, since connections break
// in more ways than any list names (HTTP/2 stream resets and GOAWAYs
// among them), except for what no retry can fix: certificate errors, an
// unknown host, a URL the transport cannot use.
func transportClass(err error) Class {
	var (
		certErr      *tls.CertificateVerificationError
		authorityErr x509.UnknownAuthorityError
		hostnameErr  x509.HostnameError
		invalidErr   x509.CertificateInvalidError
		dnsErr       *net.DNSError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &authorityErr), errors.As(err, &hostnameErr), errors.As(err, &invalidErr):
		return Permanent
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound && !dnsErr.IsTemporary && !dnsErr.IsTimeout:
		return Permanent
	case strings.Contains(err.Error(), "unsupported protocol scheme"), errors.Is(err, ErrForeignLink):
		return Permanent
	}
	return Transient
}

// statusClass classifies an HTTP status that is not a success. notFound is
// the class of a 404: Expired for a session or its content, Permanent
// elsewhere. A 401 is Permanent here: the one refresh-and-retry it earns
// happens before an error is made of it.
func statusClass(status int, notFound Class) Class {
	switch {
	case status == http.StatusNotFound:
		return notFound
	case status == http.StatusGone:
		return Expired
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500 && status <= 599:
		return Transient
	case status == http.StatusConflict, status == http.StatusTooEarly:
		// Content asked for before it is ready: waiting fixes it.
		return Transient
	}
	return Permanent
}

// maxErrorBody is how much of an error answer is read.
const maxErrorBody = 64 << 10

// responseError makes an *Error of an answer that is not a success, from
// its status, Retry-After header and (when it is one) the API's error body.
// Bodies that are not an ErrorBody (HTML from a proxy, empty) are
// tolerated; a short text/plain body becomes the Message.
func responseError(op string, resp *http.Response, body []byte, notFound Class) *Error {
	e := &Error{
		Op:         op,
		StatusCode: resp.StatusCode,
		Class:      statusClass(resp.StatusCode, notFound),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var eb ErrorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Code, e.Message, e.TraceID = eb.ErrorCode, eb.ErrorMessage, eb.TraceID
		return e
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/plain" {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		e.Message = msg
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date. It returns 0 when the header is absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second) // absurd; and no overflow
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// isDialError reports whether err happened before a connection existed,
// so the request cannot have reached the server.
func isDialError(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// attemptTimeout is the cancel cause of an attempt that ran out of time.
// It is a net.Error timeout, so ClassOf makes it Transient.
type attemptTimeout struct{ after time.Duration }

func (e *attemptTimeout) Error() string   { return "attempt timed out after " + e.after.String() }
func (e *attemptTimeout) Timeout() bool   { return true }
func (e *attemptTimeout) Temporary() bool { return true }
