package amlapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
)

func TestTimeReadsWhatItCanAndNeverFails(t *testing.T) {
	want := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	for in, exp := range map[string]time.Time{
		`"2026-01-02T10:00:00Z"`:      want,
		`"2026-01-02T11:00:00+01:00"`: want,
		`"2026-01-02T10:00:00"`:       want,
		`"2026-01-02 10:00:00"`:       want,
		`"2026-01-02 10:00:00Z"`:      want,
		`1767348000`:                  want,
		`1767348000000`:               want,
		`"1767348000"`:                want,
		`null`:                        {},
	} {
		var tm Time
		if err := json.Unmarshal([]byte(in), &tm); err != nil || !tm.Equal(exp) {
			t.Errorf("%s: %v, %v; want %v", in, tm.Time, err, exp)
		}
	}
	for _, in := range []string{`"soon"`, `true`, `{"a":1}`} {
		var tm Time
		if err := json.Unmarshal([]byte(in), &tm); err != nil || !tm.IsZero() || tm.Raw == "" {
			t.Errorf("%s: %+v, %v; want zero with Raw kept", in, tm, err)
		}
		b, _ := json.Marshal(tm)
		if string(b) == "null" {
			t.Errorf("%s re-encoded as null, losing the raw value", in)
		}
	}
}

// TestHTTP2StreamResetIsTransient: a load balancer resetting an HTTP/2
// stream must be retried, not end a lookup as rejected.
func TestHTTP2StreamResetIsTransient(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, WellKnownPath):
			_ = json.NewEncoder(w).Encode(Discovery{TokenEndpoint: "https://" + r.Host + "/token"})
		case r.URL.Path == "/token":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":300}`))
		default:
			if calls.Add(1) == 1 {
				panic(http.ErrAbortHandler) // resets the HTTP/2 stream
			}
			_ = json.NewEncoder(w).Encode(AccessRights{NationalRegistry: AccessGranted})
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, IssuerURL: srv.URL, ClientID: "c", ClientSecret: "s", HTTPClient: srv.Client(),
		Retry: RetryPolicy{InitialInterval: 10 * time.Millisecond, MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	ar, err := c.AccessRights(context.Background())
	if err != nil || ar.NationalRegistry != AccessGranted {
		t.Fatalf("after a stream reset: %+v, %v (class %v)", ar, err, ClassOf(err))
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want a retry after the reset", calls.Load())
	}
}

// TestRedirectNeverCarriesTheTokenToAnotherOrigin: Go keeps Authorization
// on a redirect to the same host on another port; we must not.
func TestRedirectNeverCarriesTheTokenToAnotherOrigin(t *testing.T) {
	var leaked atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
		_ = json.NewEncoder(w).Encode(AccessRights{NationalRegistry: AccessMissing})
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"SECRET-TOKEN","token_type":"Bearer","expires_in":300}`))
		default:
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		}
	}))
	defer api.Close()
	c, err := New(Config{BaseURL: api.URL, TokenURL: api.URL + "/token", ClientID: "c", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AccessRights(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := leaked.Load().(string); got != "" {
		t.Fatalf("the other origin received Authorization %q", got)
	}
}

func TestDiscoveryMustNameTheConfiguredIssuer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(Discovery{Issuer: "https://evil.example/realms/x", TokenEndpoint: "http://" + r.Host + "/token"})
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, IssuerURL: srv.URL + "/realms/x", ClientID: "c", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AccessRights(context.Background())
	if err == nil || ClassOf(err) != Permanent || !strings.Contains(err.Error(), "evil.example") {
		t.Fatalf("a discovery document naming another issuer: %v", err)
	}
}

// TestFailedEarlyRefreshKeepsTheTokenAndBacksOff: while the current token
// is valid, a failing token endpoint neither fails calls nor is asked on
// every call.
func TestFailedEarlyRefreshKeepsTheTokenAndBacksOff(t *testing.T) {
	var tokenCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if tokenCalls.Add(1) > 1 {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":4}`))
			return
		}
		_ = json.NewEncoder(w).Encode(AccessRights{NationalRegistry: AccessGranted})
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, TokenURL: srv.URL + "/token", ClientID: "c", ClientSecret: "s",
		Retry: RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.AccessRights(ctx); err != nil {
		t.Fatal(err)
	}
	// Calls go on past the refresh point (half of 4 s), the token still
	// valid, until one has tried the refresh and failed; then 20 more.
	testenv.Eventually(t, 3500*time.Millisecond, func() error {
		if _, err := c.AccessRights(ctx); err != nil {
			t.Fatalf("a call with a valid token failed because the refresh did: %v", err)
		}
		if n := tokenCalls.Load(); n < 2 {
			return fmt.Errorf("token endpoint asked %d times: no refresh tried yet", n)
		}
		return nil
	})
	for range 20 {
		if _, err := c.AccessRights(ctx); err != nil {
			t.Fatalf("a call with a valid token failed because the refresh did: %v", err)
		}
	}
	if n := tokenCalls.Load(); n != 2 {
		t.Fatalf("token endpoint asked %d times; want 1 fetch and 1 failed refresh, then a pause", n)
	}
}
