package kybflow_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestContractHasNoDependencies: the contract imports only the standard
// library and package identifier, so that a service that only decodes
// events links nothing else (the NATS and S3 client is package client).
func TestContractHasNoDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/kybflow/kybflow").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(pkg, "/")
		if !strings.Contains(first, ".") {
			continue // the standard library
		}
		if pkg != "github.com/kybflow/kybflow" && pkg != "github.com/kybflow/kybflow/identifier" {
			t.Errorf("package kybflow depends on %s", pkg)
		}
	}
}
