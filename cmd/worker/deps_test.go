package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestWorkerLinksNoDevelopmentLab: the production worker links none of
// development mode (cmd/kybflow-dev): no embedded NATS server, no sandbox,
// no bridge, no test helpers.
func TestWorkerLinksNoDevelopmentLab(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/kybflow/kybflow/cmd/worker").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/nats-io/nats-server/", "github.com/kybflow/kybflow/internal/sandbox",
			"github.com/kybflow/kybflow/internal/bridge", "github.com/kybflow/kybflow/internal/devmode",
			"github.com/kybflow/kybflow/internal/natsembed", "github.com/kybflow/kybflow/internal/testenv",
			"github.com/kybflow/kybflow/internal/cli",
		} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("cmd/worker links %s", pkg)
			}
		}
	}
}
