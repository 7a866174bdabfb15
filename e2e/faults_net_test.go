package e2e

// Free addresses, waiting for an HTTP 200, and the sandbox's inspect endpoint.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
)

func faultAddr(tb testing.TB) string {
	tb.Helper()
	a, err := faultFreeAddr()
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func faultFreeAddr() (string, error) { return testenv.FreeAddr() }

// faultFreeAddrs picks n distinct free addresses.
func faultFreeAddrs(tb testing.TB, n int) []string {
	tb.Helper()
	out, err := testenv.FreeAddrs(n)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// faultWaitOK waits until url answers 200, for at most timeout, and fails early
// when p exits.
func faultWaitOK(url string, p *fproc, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	exited := p.exited()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never answered 200 at %s within %s: %w", p.name, url, timeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it answered 200 at %s", p.name, url)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// faultSandboxInspection is the part of the sandbox's /_sandbox/inspect that
// the benchmarks read.
type faultSandboxInspection struct {
	Sessions  []json.RawMessage `json:"sessions"`
	Downloads []struct {
		SessionID string    `json:"sessionId"`
		Entity    string    `json:"entity"`
		Status    int       `json:"status"`
		Time      time.Time `json:"time"`
	} `json:"downloads"`
}

func faultInspectSandbox(addr string) (faultSandboxInspection, error) {
	var ins faultSandboxInspection
	resp, err := http.Get("http://" + addr + "/_sandbox/inspect")
	if err != nil {
		return ins, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&ins)
	return ins, err
}
