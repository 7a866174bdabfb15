package console

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// TestKubernetesManifestsSetEverySetting keeps deploy/k8s in step: every
// console setting is in its ConfigMap, its Secret's example, or named in a
// comment saying why it is left unset.
func TestKubernetesManifestsSetEverySetting(t *testing.T) {
	var text strings.Builder
	for _, f := range []string{"console-configmap.yaml", "console-deployment.yaml", "console-secrets.example.yaml"} {
		b, err := os.ReadFile("../../deploy/k8s/" + f)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	var c Config
	s := envconfig.New("console", envconfig.MapLookup(nil), io.Discard)
	c.Settings(s)
	for _, v := range s.Vars() {
		if !strings.Contains(text.String(), v) {
			t.Errorf("deploy/k8s does not set or mention %s", v)
		}
	}
}
