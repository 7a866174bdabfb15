package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestLargeReportStreams downloads a padded report far larger than the
// heap it may use: it must be generated as it is sent.
func TestLargeReportStreams(t *testing.T) {
	t.Parallel()
	size := int64(100 << 20)
	if testing.Short() || raceEnabled {
		size = 20 << 20 // the race detector slows generation tenfold
	}
	e := newEnv(t, sandbox.Config{ReadyAfter: 10 * time.Millisecond, ReportSize: size})
	id := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923609016", Reports: []amlapi.ReportType{"aml"}})
	s := e.wait(amlapi.KindOrganization, id, 2*time.Second, done)

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	req, _ := http.NewRequest(http.MethodGet, s.Reports[amlapi.ReportAML].Link, nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	close(stop)
	<-sampled
	if err != nil || resp.StatusCode != http.StatusOK || n != resp.ContentLength {
		t.Fatalf("%d, %v: read %d of Content-Length %d", resp.StatusCode, err, n, resp.ContentLength)
	}
	if n > size || n < size-(64<<10) {
		t.Errorf("report is %d bytes, want about %d", n, size)
	}
	if p := peak.Load(); p > 64<<20 {
		t.Errorf("heap in use peaked at %d MB while streaming a %d MB report", p>>20, n>>20)
	}
	t.Logf("%d MB report in %s, heap in use peaked at %d MB", n>>20, time.Since(start).Round(time.Millisecond), peak.Load()>>20)
}

// BenchmarkCreateAndPoll is the cost of a session: create, then GET it.
func BenchmarkCreateAndPoll(b *testing.B) {
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	tok := benchToken(b, srv.URL)
	body := []byte(`{"identifier":"923609016","expands":["ownership","roles"],"reports":["aml"]}`)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+amlapi.CreateOrganizationPath(amlapi.NO), bytesReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			loc := resp.Header.Get("Location")
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			req, _ = http.NewRequest(http.MethodGet, loc, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err = http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatal(err, resp.StatusCode)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkJSON is the cost of rendering a full organization document.
func BenchmarkJSON(b *testing.B) {
	sb, _ := sandbox.New(sandbox.Config{ReadyAfter: time.Nanosecond})
	srv := httptest.NewServer(sb.Handler())
	defer srv.Close()
	tok := benchToken(b, srv.URL)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+amlapi.CreateOrganizationPath(amlapi.NO),
		bytesReader([]byte(`{"identifier":"974760673","expands":["address","financials","ownership","authorities","roles","sanction"]}`)))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, _ := http.DefaultClient.Do(req)
	loc := resp.Header.Get("Location")
	resp.Body.Close()
	testenv.Eventually(b, 5*time.Second, func() error { // READY after ReadyAfter, a nanosecond
		req, _ := http.NewRequest(http.MethodGet, loc+"/json", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET json: %d", resp.StatusCode)
		}
		return nil
	})
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, loc+"/json", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatal(err, resp.StatusCode)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func benchToken(b *testing.B, base string) string {
	req, _ := http.NewRequest(http.MethodPost, base+sandbox.IssuerPath+amlapi.TokenPath, bytesReader([]byte("grant_type=client_credentials")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonDecode(resp.Body, &tok); err != nil {
		b.Fatal(err)
	}
	return tok.AccessToken
}
