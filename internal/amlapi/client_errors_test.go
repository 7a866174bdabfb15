// Tests of how failed calls are classified: answers by status, timeouts, refused connections.

package amlapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestErrorClasses(t *testing.T) {
	html := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, "<html><body>Bad gateway</body></html>")
		}
	}
	empty := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
	}
	type callFunc func(*Client) error
	create := func(c *Client) error {
		_, err := c.CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
		return err
	}
	session := func(c *Client) error { _, err := c.Session(context.Background(), KindOrganization, "s1"); return err }
	download := func(c *Client) error {
		_, err := c.Download(context.Background(), "/organization/session/s1/json")
		return err
	}
	access := func(c *Client) error { _, err := c.AccessRights(context.Background()); return err }

	tests := []struct {
		name     string
		call     callFunc
		api      http.HandlerFunc
		class    Class
		attempts int32
		code     string
		text     string // the whole Error() when set
	}{
		{"400 with errorCode", create, status(400, CodeInvalidIdentifier), Permanent, 1, CodeInvalidIdentifier,
			"amlapi: create organization session NO: 400 INVALID_IDENTIFIER: message for INVALID_IDENTIFIER (trace trace-INVALID_IDENTIFIER)"},
		{"403 missing scope", create, status(403, CodeForbidden), Permanent, 1, CodeForbidden, ""},
		{"404 on create", create, status(404, CodeNotFound), Permanent, 1, CodeNotFound, ""},
		{"404 on access rights", access, status(404, CodeNotFound), Permanent, 1, CodeNotFound, ""},
		{"404 on session", session, status(404, CodeNotFound), Expired, 1, CodeNotFound,
			"amlapi: get organization session: 404 SESSION_NOT_FOUND: message for SESSION_NOT_FOUND (trace trace-SESSION_NOT_FOUND)"},
		{"404 on content", download, status(404, CodeNotFound), Expired, 1, CodeNotFound, ""},
		{"410 on session", session, status(410, CodeGone), Expired, 1, CodeGone, ""},
		{"410 on content", download, empty(410), Expired, 1, "", ""},
		{"422 other 4xx", session, empty(422), Permanent, 1, "", "amlapi: get organization session: 422 Unprocessable Entity"},
		{"408", session, empty(408), Transient, 4, "", ""},
		{"500 empty", session, empty(500), Transient, 4, "", ""},
		{"502 html", access, html(502), Transient, 4, "", "amlapi: get access rights: 502 Bad Gateway"},
		{"503 with code", download, status(503, CodeUnavailable), Transient, 4, CodeUnavailable, ""},
		{"200 not JSON", session, html(200), Unreadable, 1, "", ""},
		{"200 not JSON, access rights", access, html(200), Permanent, 1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.setAPI(tt.api)
			err := tt.call(newClient(t, testConfig(f)))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if e.Class != tt.class || ClassOf(err) != tt.class {
				t.Errorf("class = %v, want %v (%v)", e.Class, tt.class, err)
			}
			if e.Code != tt.code {
				t.Errorf("code = %q, want %q", e.Code, tt.code)
			}
			if tt.text != "" && err.Error() != tt.text {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), tt.text)
			}
			if n := f.apiHits.Load(); n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
		})
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	f := newFake(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	cfg := testConfig(f)
	cfg.RequestTimeout = 100 * time.Millisecond
	cfg.Retry.MaxAttempts = 2
	var logs logBuffer
	cfg.Logger = logs.logger()
	start := time.Now()
	_, err := newClient(t, cfg).CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
	var ne net.Error
	if ClassOf(err) != Transient || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a Transient timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if n := f.apiHits.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	if !strings.Contains(logs.String(), "duplicate session") {
		t.Errorf("no duplicate warning after a timed-out create; log:\n%s", logs.String())
	}

	t.Run("caller deadline", func(t *testing.T) {
		cfg := testConfig(f)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := newClient(t, cfg).AccessRights(ctx)
		if ClassOf(err) != Transient || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a Transient error wrapping context.DeadlineExceeded", err)
		}
	})
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	f := newFake(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := testConfig(f)
	cfg.BaseURL = "http://" + addr
	cfg.Retry.MaxAttempts = 2
	var logs logBuffer
	cfg.Logger = logs.logger()
	_, err = newClient(t, cfg).CreateOrganizationSession(context.Background(), NO, CreateSessionRequest{Identifier: "923609016"}, CreateOptions{})
	if ClassOf(err) != Transient || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want a Transient connection refused", err)
	}
	if strings.Contains(logs.String(), "duplicate") {
		t.Error("a refused connection cannot have opened a session, yet a duplicate was warned of")
	}
}
