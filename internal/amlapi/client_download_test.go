// Tests of Download: streaming, retries before the body, and links to other origins.

package amlapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDownload(t *testing.T) {
	f := newFake(t)
	release := make(chan struct{})
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/organization/session/s1/report/aml":
			w.Header().Set("Content-Type", ContentTypePDF)
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "%PDF-")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			_, _ = io.WriteString(w, "1.7 x")
		case "/organization/session/s1/json":
			w.Header().Set("Content-Type", ContentTypeJSON)
			w.(http.Flusher).Flush() // chunked: no length
			// A body slower than RequestTimeout (100 ms): the duration is what is tested.
			time.Sleep(300 * time.Millisecond) // sleep: a slow server, its body later than RequestTimeout
			_, _ = io.WriteString(w, `{"keyInformation":{}}`)
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfig(f)
	cfg.RequestTimeout = 100 * time.Millisecond // bounds the headers, not the body
	c := newClient(t, cfg)
	ctx := context.Background()

	start := time.Now()
	d, err := c.Download(ctx, f.srv.URL+"/organization/session/s1/report/aml")
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("Download waited for the whole body; it must stream")
	}
	close(release)
	body, err := io.ReadAll(d.Body)
	d.Body.Close()
	if err != nil || string(body) != "%PDF-1.7 x" || d.Size != 10 || d.ContentType != ContentTypePDF {
		t.Errorf("download = %q, size %d, type %q, err %v", body, d.Size, d.ContentType, err)
	}

	// A relative link, a body slower than RequestTimeout, no length.
	d, err = c.Download(ctx, "/organization/session/s1/json")
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(d.Body)
	d.Body.Close()
	if err != nil || string(body) != `{"keyInformation":{}}` || d.Size != -1 || d.ContentType != ContentTypeJSON {
		t.Errorf("download = %q, size %d, type %q, err %v", body, d.Size, d.ContentType, err)
	}
	if reqs := f.recorded(); len(reqs) != 2 || reqs[1].Auth != "Bearer tok-1" {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestDownloadRetriesBeforeBody(t *testing.T) {
	f := newFake(t)
	f.setAPI(sequence(status(503, CodeUnavailable), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentTypeJSON)
		_, _ = io.WriteString(w, "{}")
	}))
	d, err := newClient(t, testConfig(f)).Download(context.Background(), "/organization/session/s1/json")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Body.Close()
	if b, _ := io.ReadAll(d.Body); string(b) != "{}" || f.apiHits.Load() != 2 {
		t.Errorf("body %q after %d attempts", b, f.apiHits.Load())
	}
}

func TestDownloadRefusesForeignHosts(t *testing.T) {
	f := newFake(t)
	f.setAPI(accessGranted)
	var otherHits int
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherHits++
		mu.Unlock()
	}))
	defer other.Close()
	c := newClient(t, testConfig(f))
	for _, link := range []string{
		other.URL + "/organization/session/s1/json",             // another port
		"https://evil.example/organization/session/s1",          // another host
		strings.Replace(f.srv.URL, "http:", "https:", 1) + "/x", // another scheme
		"//evil.example/x", // scheme-relative
		"",
	} {
		_, err := c.Download(context.Background(), link)
		if ClassOf(err) != Permanent || (link != "" && !errors.Is(err, ErrForeignLink)) {
			t.Errorf("Download(%q) = %v, want a Permanent ErrForeignLink", link, err)
		}
	}
	if err := func() error { _, err := c.Download(context.Background(), "https://evil.example/x"); return err }(); !strings.Contains(err.Error(), "access token") {
		t.Errorf("the error should say why: %v", err)
	}
	if otherHits != 0 || f.apiHits.Load() != 0 || f.tokenHits.Load() != 0 {
		t.Errorf("requests made: other %d, API %d, token %d", otherHits, f.apiHits.Load(), f.tokenHits.Load())
	}
}

func TestSameOrigin(t *testing.T) {
	base := must(url.Parse("https://aml.example"))
	for _, tt := range []struct {
		link string
		want bool
	}{
		{"https://aml.example/x", true},
		{"https://AML.example:443/x", true},
		{"https://aml.example:8443/x", false},
		{"http://aml.example/x", false},
		{"https://aml.example.evil/x", false},
		{"https://evil@aml.example/x", true},
	} {
		if got := sameOrigin(must(url.Parse(tt.link)), base); got != tt.want {
			t.Errorf("sameOrigin(%s) = %v, want %v", tt.link, got, tt.want)
		}
	}
}
