package handler

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

func TestClassify(t *testing.T) {
	_, idErr := identifier.Normalize(identifier.NorwegianOrgNumber, "923609017")
	tests := []struct {
		name  string
		err   error
		retry bool
		delay time.Duration
		code  kybflow.FailureCode
	}{
		{"our identifier check", idErr, false, 0, kybflow.CodeInvalidIdentifier},
		{"API says bad identifier", &amlapi.Error{StatusCode: 400, Class: amlapi.Permanent, Code: amlapi.CodeInvalidIdentifier}, false, 0, kybflow.CodeInvalidIdentifier},
		{"missing scope", &amlapi.Error{StatusCode: 403, Class: amlapi.Permanent, Code: amlapi.CodeForbidden}, false, 0, kybflow.CodeRejected},
		{"429 with Retry-After", fmt.Errorf("create: %w", &amlapi.Error{StatusCode: 429, Class: amlapi.Transient, RetryAfter: 3 * time.Second}), true, 3 * time.Second, ""},
		{"503", &amlapi.Error{StatusCode: 503, Class: amlapi.Transient}, true, 0, ""},
		{"timeout", context.DeadlineExceeded, true, 0, ""},
		{"gone", &amlapi.Error{StatusCode: 410, Class: amlapi.Expired}, false, 0, kybflow.CodeExpired},
		{"unknown", errors.New("?"), false, 0, kybflow.CodeRejected},
		{"certificate or DNS: ours, not the lookup's", &amlapi.Error{Class: amlapi.Permanent, Err: errors.New("x509: certificate has expired")}, true, time.Minute, ""},
	}
	for _, tt := range tests {
		retry, delay, code := classify(tt.err)
		if retry != tt.retry || delay != tt.delay || code != tt.code {
			t.Errorf("%s: classify = %v %s %q, want %v %s %q", tt.name, retry, delay, code, tt.retry, tt.delay, tt.code)
		}
	}
	// Storage trouble is always retried; download errors are the API's.
	if retry, _, _ := classifyStore(&storeError{err: errors.New("AccessDenied")}); !retry {
		t.Error("a storage error is not retried")
	}
	if retry, _, code := classifyStore(&amlapi.Error{StatusCode: 410, Class: amlapi.Expired}); retry || code != kybflow.CodeExpired {
		t.Errorf("an expired download: retry %v code %s", retry, code)
	}
}
