// Tests of the access token: discovery, caching, client authentication, token endpoint errors, refresh and a 401.

package amlapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
)

func TestTokenDiscoveryAndCaching(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	c := newClient(t, testConfig(f))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.AccessRights(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d, tk := f.discoveryHits.Load(), f.tokenHits.Load(); d != 1 || tk != 1 {
		t.Errorf("discovery hit %d, token %d times; want 1 and 1", d, tk)
	}
	if got := f.scopes()[0]; got != ScopeBasic {
		t.Errorf("scope = %q, want the default %q", got, ScopeBasic)
	}
}

func TestTokenDiscoveryFailures(t *testing.T) {
	t.Run("transient then cached", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		f.discoveryFail = []int{503}
		c := newClient(t, testConfig(f))
		for range 3 {
			if _, err := c.AccessRights(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if d := f.discoveryHits.Load(); d != 2 {
			t.Errorf("discovery hit %d times, want 2 (a 503, then success, cached)", d)
		}
	})
	t.Run("404 is permanent", func(t *testing.T) {
		f := newFake(t)
		cfg := testConfig(f)
		cfg.IssuerURL = f.srv.URL + "/realms/nope"
		_, err := newClient(t, cfg).AccessRights(context.Background())
		if ClassOf(err) != Permanent || !strings.Contains(err.Error(), "discover token endpoint: 404") {
			t.Fatalf("err = %v", err)
		}
		if f.apiHits.Load() != 0 || f.tokenHits.Load() != 0 {
			t.Errorf("API hits %d, token hits %d after a failed discovery", f.apiHits.Load(), f.tokenHits.Load())
		}
	})
	t.Run("TokenURL wins", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		cfg := testConfig(f)
		cfg.IssuerURL = "http://127.0.0.1:1/unreachable"
		cfg.TokenURL = f.tokenURL
		if _, err := newClient(t, cfg).AccessRights(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f.discoveryHits.Load() != 0 || f.tokenHits.Load() != 1 {
			t.Errorf("discovery %d, token %d", f.discoveryHits.Load(), f.tokenHits.Load())
		}
	})
}

func TestClientAuthStyles(t *testing.T) {
	for _, tt := range []struct {
		auth ClientAuth
		want string
	}{{"", "basic"}, {ClientSecretBasic, "basic"}, {ClientSecretPost, "post"}} {
		t.Run(string(tt.auth), func(t *testing.T) {
			f := newFake(t)
			f.setAPI(accessGranted)
			cfg := testConfig(f)
			cfg.ClientAuth = tt.auth
			cfg.Scopes = []string{ScopeBasic, ScopeOFAC}
			if _, err := newClient(t, cfg).AccessRights(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := f.authStyles(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("token requests authenticated %v, want [%s]", got, tt.want)
			}
			if got := f.scopes()[0]; got != ScopeBasic+" "+ScopeOFAC {
				t.Errorf("scope = %q", got)
			}
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Run("invalid client is permanent", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		cfg := testConfig(f)
		cfg.ClientSecret = "wrong"
		_, err := newClient(t, cfg).AccessRights(context.Background())
		var e *Error
		if !errors.As(err, &e) || e.Class != Permanent || e.StatusCode != http.StatusUnauthorized || e.Code != "invalid_client" ||
			e.Error() != "amlapi: get access rights: fetch token: 401 invalid_client: Invalid client credentials" {
			t.Fatalf("err = %v, want a Permanent 401 invalid_client", err)
		}
		if tk, a := f.tokenHits.Load(), f.apiHits.Load(); tk != 1 || a != 0 {
			t.Errorf("token hits %d, API hits %d; want 1 and 0", tk, a)
		}
	})
	t.Run("5xx is retried", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		f.tokenFail = []int{500, 503}
		if _, err := newClient(t, testConfig(f)).AccessRights(context.Background()); err != nil {
			t.Fatal(err)
		}
		if tk := f.tokenHits.Load(); tk != 3 {
			t.Errorf("token hits %d, want 3", tk)
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		f := newFake(t)
		cfg := testConfig(f)
		cfg.TokenURL = "http://127.0.0.1:1/token"
		cfg.Retry.MaxAttempts = 2
		_, err := newClient(t, cfg).AccessRights(context.Background())
		if ClassOf(err) != Transient || !strings.Contains(err.Error(), "fetch token") {
			t.Fatalf("err = %v, want a Transient token fetch error", err)
		}
	})
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	f.expiresIn = 2 // the 30s default margin is capped at half: refresh after 1s
	c := newClient(t, testConfig(f))
	ctx := context.Background()
	start := time.Now() // the token is fetched after this
	calls := 0
	for range 3 {
		if _, err := c.AccessRights(ctx); err != nil {
			t.Fatal(err)
		}
		calls++
	}
	if n := f.tokenHits.Load(); n != 1 {
		t.Fatalf("token fetched %d times within its first second, want 1 (margin capped at half the lifetime)", n)
	}
	// Calls go on until one refreshes the token: after its first second,
	// before it expires.
	var refreshed time.Duration
	testenv.Eventually(t, 2*time.Second, func() error {
		if _, err := c.AccessRights(ctx); err != nil {
			t.Fatal(err)
		}
		calls++
		if n := f.tokenHits.Load(); n < 2 {
			return fmt.Errorf("token fetched %d times", n)
		}
		refreshed = time.Since(start)
		return nil
	})
	if n := f.tokenHits.Load(); n != 2 || refreshed < time.Second || refreshed >= 2*time.Second {
		t.Errorf("token fetched %d times, the second %s after the first; want 2, refreshed in its second second (before it expired)", n, refreshed)
	}
	if n := f.apiHits.Load(); n != int32(calls) {
		t.Errorf("API hits = %d, want %d, one a call (no 401 on the way)", n, calls)
	}
}

func TestRefreshTime(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		lifetime, margin, want time.Duration // want: after t0
	}{
		{300 * time.Second, 30 * time.Second, 270 * time.Second},
		{300 * time.Second, 0, 300 * time.Second},
		{40 * time.Second, 30 * time.Second, 20 * time.Second},
		{2 * time.Second, 30 * time.Second, time.Second},
		{-time.Second, 30 * time.Second, -time.Second},
	}
	for _, tt := range tests {
		if got := refreshTime(t0, t0.Add(tt.lifetime), tt.margin).Sub(t0); got != tt.want {
			t.Errorf("refreshTime(lifetime %v, margin %v) = t0%+v, want t0%+v", tt.lifetime, tt.margin, got, tt.want)
		}
	}
	if !refreshTime(t0, time.Time{}, time.Minute).IsZero() {
		t.Error("a token without expiry should never be refreshed by time")
	}
}

func TestUnauthorizedRefreshesTokenOnce(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	c := newClient(t, testConfig(f))
	ctx := context.Background()
	if _, err := c.AccessRights(ctx); err != nil {
		t.Fatal(err)
	}
	f.revokeTokens() // the cached token is now rejected
	if _, err := c.AccessRights(ctx); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if got := f.tokenHits.Load(); got != 2 {
		t.Errorf("token endpoint hit %d times, want 2", got)
	}
	if got := f.apiHits.Load(); got != 3 {
		t.Errorf("API hit %d times, want 3 (ok, 401, ok)", got)
	}

	t.Run("twice is permanent", func(t *testing.T) {
		f := newFake(t)
		f.setAPI(accessGranted)
		f.rejectAll = true
		c := newClient(t, testConfig(f))
		_, err := c.AccessRights(ctx)
		var e *Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || e.Class != Permanent || e.Code != CodeUnauthorized {
			t.Fatalf("err = %v, want a Permanent 401", err)
		}
		if a, tk := f.apiHits.Load(), f.tokenHits.Load(); a != 2 || tk != 2 {
			t.Errorf("API hits %d, token hits %d; want 2 and 2", a, tk)
		}
	})
}
