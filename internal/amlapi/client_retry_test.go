// Tests of retries: success after transient errors, exhaustion, Retry-After, duplicate sessions, cancellation.

package amlapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTransientRetriedThenSuccess(t *testing.T) {
	f := newFake(t)
	f.setAPI(sequence(status(500, CodeInternal), status(503, CodeUnavailable), accessGranted))
	c := newClient(t, testConfig(f))
	ar, err := c.AccessRights(context.Background())
	if err != nil || ar.NationalRegistry != AccessGranted {
		t.Fatalf("AccessRights = %v, %v", ar, err)
	}
	if n := f.apiHits.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	f := newFake(t)
	f.setAPI(status(503, CodeUnavailable))
	cfg := testConfig(f)
	cfg.Retry.MaxAttempts = 3
	_, err := newClient(t, cfg).AccessRights(context.Background())
	if ClassOf(err) != Transient || !strings.Contains(err.Error(), "503 SERVICE_UNAVAILABLE") {
		t.Fatalf("err = %v, want the last Transient 503", err)
	}
	if n := f.apiHits.Load(); n != 3 {
		t.Errorf("%d attempts, want MaxAttempts = 3", n)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := newFake(t)
	var first time.Time
	var mu sync.Mutex
	f.setAPI(sequence(
		func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			first = time.Now()
			mu.Unlock()
			w.Header().Set("Retry-After", "1")
			status(429, CodeRateLimited)(w, r)
		},
		func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			waited := time.Since(first)
			mu.Unlock()
			if waited < time.Second {
				http.Error(w, "too soon: "+waited.String(), http.StatusTeapot)
				return
			}
			accessGranted(w, r)
		},
	))
	c := newClient(t, testConfig(f)) // backoff of milliseconds: only Retry-After makes it wait
	start := time.Now()
	if _, err := c.AccessRights(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("took %v, want at least the Retry-After of 1s", d)
	}
	if n := f.apiHits.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestRetryAfterBeyondBudgetGivesUp(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		status(429, CodeRateLimited)(w, r)
	})
	for _, tt := range []struct {
		name   string
		budget time.Duration
		ctx    func() (context.Context, context.CancelFunc)
	}{
		{"retry budget", 2 * time.Second, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"context deadline", time.Hour, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Second)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.apiHits.Store(0)
			cfg := testConfig(f)
			cfg.Retry.MaxElapsedTime = tt.budget
			c := newClient(t, cfg)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := c.AccessRights(ctx)
			var e *Error
			if !errors.As(err, &e) || e.Class != Transient || e.RetryAfter != 30*time.Second || e.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("err = %v, want a Transient 429 with RetryAfter 30s", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v; it should give up at once", d)
			}
			if n := f.apiHits.Load(); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
		})
	}
}

func TestCreateRetryWarnsOfDuplicates(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first http.HandlerFunc
		warn  bool
	}{
		{"500", status(500, CodeInternal), true},
		{"503", status(503, CodeUnavailable), false},
		{"429", status(429, CodeRateLimited), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(sequence(tt.first, created("s-2")))
			var logs logBuffer
			cfg := testConfig(f)
			cfg.Logger = logs.logger()
			id, err := newClient(t, cfg).CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
			if err != nil || id != "s-2" {
				t.Fatalf("create = %q, %v", id, err)
			}
			if got := strings.Contains(logs.String(), "duplicate session"); got != tt.warn {
				t.Errorf("duplicate warning logged = %v, want %v; log:\n%s", got, tt.warn, logs.String())
			}
			if reqs := f.recorded(); len(reqs) != 2 || string(reqs[0].Body) != string(reqs[1].Body) {
				t.Errorf("the retry did not re-send the same body: %+v", reqs)
			}
		})
	}
}

func TestCancelWhileWaitingToRetry(t *testing.T) {
	f := newFake(t)
	f.setAPI(status(503, CodeUnavailable))
	cfg := testConfig(f)
	cfg.Retry.InitialInterval, cfg.Retry.MaxInterval, cfg.Retry.MaxElapsedTime = 10*time.Second, 10*time.Second, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := newClient(t, cfg).AccessRights(ctx)
	if !errors.Is(err, context.Canceled) || ClassOf(err) != Transient || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the Transient 503 wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v; cancellation should end the wait", d)
	}
}
