package amlapi

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/kybflow/kybflow/identifier"
)

func TestClassOf(t *testing.T) {
	_, idErr := identifier.Normalize(identifier.NorwegianOrgNumber, "123")
	dial := func(errno syscall.Errno) error {
		return &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}}
	}
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Permanent},
		{"unknown", errors.New("boom"), Permanent},
		{"*Error transient", &Error{Class: Transient}, Transient},
		{"*Error expired, wrapped", fmt.Errorf("poll: %w", &Error{Class: Expired}), Expired},
		{"*Error wins over its cause", &Error{Class: Permanent, Err: context.Canceled}, Permanent},
		{"invalid identifier", fmt.Errorf("x: %w", idErr), Permanent},
		{"canceled", context.Canceled, Transient},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), Transient},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), Transient},
		{"EOF from an HTTP exchange", &url.Error{Op: "Post", URL: "http://x", Err: io.EOF}, Transient},
		{"bare EOF", io.EOF, Permanent},
		{"connection refused", dial(syscall.ECONNREFUSED), Transient},
		{"connection reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, Transient},
		{"broken pipe", syscall.EPIPE, Transient},
		{"timeout", &attemptTimeout{after: time.Second}, Transient},
		{"net op error", &net.OpError{Op: "read", Err: errors.New("weird")}, Transient},
		{"temporary DNS", &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, Transient},
		{"unknown host", &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}}, Permanent},
		{"bad certificate", &url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}, Permanent},
	}
	for _, tt := range tests {
		if got := ClassOf(tt.err); got != tt.want {
			t.Errorf("%s: ClassOf(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "create organization session NO", StatusCode: 400, Code: "INVALID_IDENTIFIER", Message: "bad check digit", TraceID: "abc"},
			"amlapi: create organization session NO: 400 INVALID_IDENTIFIER: bad check digit (trace abc)"},
		{&Error{Op: "get access rights", StatusCode: 503, RetryAfter: 2 * time.Second},
			"amlapi: get access rights: 503 Service Unavailable (retry after 2s)"},
		{&Error{Op: "get organization session", StatusCode: 500, Message: "oops"},
			"amlapi: get organization session: 500: oops"},
		{&Error{Op: "download", Err: ErrForeignLink},
			"amlapi: download: link is not on the API host"},
		{&Error{Op: "get organization session", StatusCode: 200, Err: errors.New("decode session: EOF")},
			"amlapi: get organization session: 200: decode session: EOF"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
	e := &Error{Op: "x", Err: context.Canceled}
	if !errors.Is(e, context.Canceled) {
		t.Error("Unwrap does not reach Err")
	}
	for c, want := range map[Class]string{Permanent: "permanent", Transient: "transient", Expired: "expired", 9: "class(9)"} {
		if c.String() != want {
			t.Errorf("Class(%d).String() = %q", int(c), c.String())
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(httpTimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(httpTimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]Class{
		400: Permanent, 401: Permanent, 403: Permanent, 409: Transient, 425: Transient, 422: Permanent,
		408: Transient, 429: Transient, 500: Transient, 502: Transient, 503: Transient, 504: Transient,
		410: Expired, 302: Permanent,
	} {
		if got := statusClass(status, Permanent); got != want {
			t.Errorf("statusClass(%d) = %v, want %v", status, got, want)
		}
	}
	if statusClass(404, Expired) != Expired || statusClass(404, Permanent) != Permanent {
		t.Error("404 does not follow notFound")
	}
}
