package console

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/testenv"
)

type response struct {
	status int
	header http.Header
	body   string
	err    error // reading the body
}

// get requests path of the console as a user of role ("" for the
// default).
func get(t *testing.T, app *App, path string, role Role) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, app.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("X-Test-Role", string(role))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// stream follows the console's server-sent events as role, and returns
// their lines.
func stream(t *testing.T, app *App) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, app.URL()+"/events/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("events stream: %d %s", resp.StatusCode, ct)
	}
	lines := make(chan string, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return lines
}

func TestPagesOfALookup(t *testing.T) {
	p := startPipeline(t)
	audit := &memoryAuditor{}
	app := p.console(t, Options{Auth: roleAuth{}, Auditor: audit})
	testenv.Eventually(t, 10*time.Second, func() error { return app.Index().Ready(t.Context()) })
	live := stream(t, app)

	cmd := kybflow.LookupCommand{LookupID: "page-1", Type: kybflow.TypeOrganization, Country: kybflow.CountryNO, Identifier: "923609016",
		Expands: []string{"roles", "sanction"}, Reports: []kybflow.ReportType{"aml"}, CorrelationID: "crm-page"}
	if err := p.client.Submit(t.Context(), cmd); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := p.client.Wait(ctx, "page-1")
	if err != nil || res.Completed == nil {
		t.Fatalf("lookup: %+v, %v", res, err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if l, _ := app.Index().Lookup("page-1"); l.State != StateCompleted {
			return fmt.Errorf("page-1 is %s in the index", l.State)
		}
		return nil
	})

	t.Run("live", func(t *testing.T) {
		// The stream says page-1 went from waiting to completed.
		var seen []string
		deadline := time.After(10 * time.Second)
	read:
		for {
			select {
			case line, ok := <-live:
				if !ok {
					break read
				}
				if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"key":"page-1"`) {
					seen = append(seen, line)
					if strings.Contains(line, `"state":"completed"`) {
						break read
					}
				}
			case <-deadline:
				break read
			}
		}
		if len(seen) < 2 || !strings.Contains(seen[0], `"state":"waiting"`) || !strings.Contains(seen[0], `"new":true`) {
			t.Errorf("live updates of page-1: %v", seen)
		}
	})

	t.Run("list", func(t *testing.T) {
		r := get(t, app, "/", RoleViewer)
		if r.status != http.StatusOK || !strings.Contains(r.body, `href="/lookups/page-1"`) || !strings.Contains(r.body, `data-key="page-1"`) {
			t.Fatalf("GET /: %d\n%s", r.status, r.body)
		}
		checkHeaders(t, r, pageCSP)
		for path, want := range map[string]bool{
			"/?state=completed&q=page-":    true,
			"/?q=crm-pa&type=organization": true,
			"/?state=failed":               false,
			"/?country=SE":                 false,
			"/?age=1h&country=NO":          true,
			"/?state=waiting&q=page-1":     false,
		} {
			r := get(t, app, path, RoleViewer)
			if r.status != http.StatusOK || strings.Contains(r.body, `data-key="page-1"`) != want {
				t.Errorf("GET %s: %d, shows page-1: %v, want %v", path, r.status, !want, want)
			}
		}
		for _, path := range []string{"/?state=bogus", "/?after=nope"} {
			if r := get(t, app, path, RoleViewer); r.status != http.StatusBadRequest {
				t.Errorf("GET %s: %d, want 400", path, r.status)
			}
		}
	})

	pdf := res.Completed.Artifacts[0]
	for _, a := range res.Completed.Artifacts {
		if a.Name == "report:aml" {
			pdf = a
		}
	}
	rawPDF := "/lookups/page-1/artifacts/report:aml/raw"

	t.Run("lookup", func(t *testing.T) {
		r := get(t, app, "/lookups/page-1", RoleViewer)
		if r.status != http.StatusOK {
			t.Fatalf("GET /lookups/page-1: %d\n%s", r.status, r.body)
		}
		for _, want := range []string{res.Completed.SessionID, "session_opened", "completed", pdf.SHA256, "valid", "crm-page", "organization status"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the lookup's page lacks %q", want)
			}
		}
		if strings.Contains(r.body, "/artifacts/") {
			t.Error("a viewer's page links to the documents")
		}
		checkHeaders(t, r, pageCSP)
		if r := get(t, app, "/lookups/page-1", RoleOfficer); !strings.Contains(r.body, `href="/lookups/page-1/artifacts/report:aml"`) {
			t.Errorf("an officer's page has no link to the report:\n%s", r.body)
		}
		if r := get(t, app, "/lookups/nope", RoleViewer); r.status != http.StatusNotFound {
			t.Errorf("an unknown lookup: %d", r.status)
		}
	})

	t.Run("viewer refused a document", func(t *testing.T) {
		for _, path := range []string{rawPDF, "/lookups/page-1/artifacts/json", "/lookups/page-1/artifacts/json/raw"} {
			if r := get(t, app, path, RoleViewer); r.status != http.StatusForbidden || r.err != nil {
				t.Errorf("GET %s as a viewer: %d, want 403", path, r.status)
			}
		}
		if n := len(audit.Entries()); n != 0 {
			t.Errorf("%d audit entries for refused views", n)
		}
	})

	t.Run("PDF", func(t *testing.T) {
		r := get(t, app, "/lookups/page-1/artifacts/report:aml", RoleOfficer)
		if r.status != http.StatusOK || !strings.Contains(r.body, `<iframe class="pdf" src="`+rawPDF+`"`) {
			t.Errorf("the report's page: %d\n%s", r.status, r.body)
		}
		r = get(t, app, rawPDF, RoleOfficer)
		sum := sha256.Sum256([]byte(r.body))
		if r.status != http.StatusOK || r.err != nil || hex.EncodeToString(sum[:]) != pdf.SHA256 || !strings.HasPrefix(r.body, "%PDF") {
			t.Fatalf("the report: %d, %v, %d bytes", r.status, r.err, len(r.body))
		}
		if ct, cd := r.header.Get("Content-Type"), r.header.Get("Content-Disposition"); ct != "application/pdf" || !strings.HasPrefix(cd, "inline") {
			t.Errorf("the report: Content-Type %q, Content-Disposition %q", ct, cd)
		}
		checkHeaders(t, r, documentCSP)
		entries := audit.Entries()
		if len(entries) != 1 || entries[0].Actor.Role != RoleOfficer || entries[0].Action != ActionViewDocument ||
			entries[0].LookupKey != "page-1" || entries[0].Detail != "report:aml" || entries[0].At.IsZero() {
			t.Errorf("audit: %+v", entries)
		}
	})

	t.Run("JSON tree", func(t *testing.T) {
		r := get(t, app, "/lookups/page-1/artifacts/json", RoleOperator)
		if r.status != http.StatusOK || !strings.Contains(r.body, "<details open><summary><span class=\"k\">the result</span>") ||
			strings.Count(r.body, "<details") < 3 {
			t.Errorf("the JSON's page: %d\n%s", r.status, r.body)
		}
		if got := audit.Entries(); got[len(got)-1].Detail != "json" {
			t.Errorf("audit: %+v", got)
		}
	})

	t.Run("audit down", func(t *testing.T) {
		audit.setFail(errors.New("audit stream unavailable"))
		defer audit.setFail(nil)
		for _, path := range []string{rawPDF, "/lookups/page-1/artifacts/json"} {
			if r := get(t, app, path, RoleOfficer); r.status != http.StatusServiceUnavailable || strings.HasPrefix(r.body, "%PDF") {
				t.Errorf("GET %s without an audit: %d, want 503", path, r.status)
			}
		}
	})

	t.Run("corrupted object", func(t *testing.T) {
		file := filepath.Join(p.blobDir, filepath.FromSlash(pdf.Key))
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff // same size, another sha256
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r := get(t, app, rawPDF, RoleOfficer)
		if r.err == nil || len(r.body) >= len(b) {
			t.Errorf("a corrupted report was sent whole: %d, %d of %d bytes, %v", r.status, len(r.body), len(b), r.err)
		}
	})

	t.Run("health", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			if r := get(t, app, path, ""); r.status != http.StatusOK {
				t.Errorf("GET %s: %d %s", path, r.status, r.body)
			}
		}
		if r := get(t, app, "/static/live.js", ""); r.status != http.StatusOK || !strings.Contains(r.body, "EventSource") {
			t.Errorf("the script: %d", r.status)
		}
	})
}

// checkHeaders checks the security headers of a response.
func checkHeaders(t *testing.T, r response, csp string) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
