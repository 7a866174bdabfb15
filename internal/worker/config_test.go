package worker

import (
	"flag"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/logging"
	"github.com/kybflow/kybflow/internal/opshttp"
)

func loadConfig(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	var c Config
	s := envconfig.New("worker", envconfig.MapLookup(env), io.Discard)
	c.Settings(s)
	if err := s.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	base := map[string]string{
		"AML_API_URL": "https://aml.example", "AML_ISSUER_URL": "https://oidc.example/realms/x",
		"AML_CLIENT_ID": "id", "AML_CLIENT_SECRET": "secret", "BLOB_DIR": t.TempDir(),
	}
	if _, err := loadConfig(t, base); err != nil {
		t.Fatalf("a minimal valid configuration: %v", err)
	}
	for _, tt := range []struct {
		change map[string]string
		want   string
	}{
		{map[string]string{"AML_API_URL": ""}, "AML_API_URL is required"},
		{map[string]string{"AML_API_URL": "aml.example"}, "AML_API_URL"},
		{map[string]string{"AML_ISSUER_URL": ""}, "AML_ISSUER_URL"},
		{map[string]string{"AML_CLIENT_SECRET": ""}, "AML_CLIENT_SECRET is required"},
		{map[string]string{"BLOB_DIR": ""}, "S3_ENDPOINT"},
		{map[string]string{"BLOB_DIR": "", "S3_ENDPOINT": "http://minio:9000", "S3_BUCKET": "b", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s"}, "S3_ENDPOINT"},
		{map[string]string{"S3_BUCKET": "b"}, "BLOB_DIR"},
		{map[string]string{"WORKER_ROLES": "commands,reports"}, "WORKER_ROLES"},
		{map[string]string{"POLL_INITIAL": "soon"}, "POLL_INITIAL"},
		{map[string]string{"AML_CLIENT_AUTH": "jwt"}, "AML_CLIENT_AUTH"},
		{map[string]string{"AML_SUBJECT_PREFIX": "a b"}, "AML_SUBJECT_PREFIX"},
		{map[string]string{"STREAM_REPLICAS": "2"}, "STREAM_REPLICAS"},
		{map[string]string{"AML_WEBHOOK_URL": "bridge/webhooks"}, "AML_WEBHOOK_URL"},
		{map[string]string{"AML_RETRY_MAX_ELAPSED": "20m"}, "AML_RETRY_MAX_ELAPSED: must be shorter than HANDLER_TIMEOUT"},
		{map[string]string{"BLOB_DIR": "", "S3_ENDPOINT": "minio:9000", "S3_BUCKET": "b", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "s", "S3_PART_SIZE": "1048576"}, "S3_PART_SIZE"},
		{map[string]string{"BLOB_KEY_PREFIX": "../up"}, "BLOB_KEY_PREFIX"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
	} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range tt.change {
			env[k] = v
		}
		_, err := loadConfig(t, env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %s", tt.change, err, tt.want)
		}
	}
}

// TestDefaultsAreTheOwnersConstants: the worker's settings of a group have
// the defaults of the package that declares it.
func TestDefaultsAreTheOwnersConstants(t *testing.T) {
	c := Defaults()
	if c.AML.RetryBudget != amlapi.DefaultMaxElapsedTime || c.AML.RateLimit != float64(amlapi.DefaultRateLimit) ||
		!slices.Equal(c.AML.Scopes, amlapi.DefaultScopes()) || c.AML.ClientAuth != amlapi.SettingAuthBasic {
		t.Errorf("AML: %v", c.AML)
	}
	if c.Storage.PartSize != blob.DefaultPartSize || c.Storage.UploadMemory != blob.DefaultUploadMemory || !c.Storage.Secure {
		t.Errorf("storage: %v", c.Storage)
	}
	if c.Ops != opshttp.DefaultSettings() || c.Log != logging.DefaultSettings() {
		t.Errorf("ops %+v, log %+v", c.Ops, c.Log)
	}
	if c.SubjectPrefix != kybflow.DefaultPrefix || c.KeyPrefix != kybflow.DefaultKeyPrefix || c.EventSource != kybflow.DefaultSource {
		t.Errorf("contract: %q %q %q", c.SubjectPrefix, c.KeyPrefix, c.EventSource)
	}
}

var update = flag.Bool("update", false, "rewrite the README's configuration tables")

// TestREADMEListsEverySetting keeps the README's configuration tables in
// step with the code; -update rewrites them.
func TestREADMEListsEverySetting(t *testing.T) {
	const path = "../../README.md"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w Config
	ws := envconfig.New("worker", envconfig.MapLookup(nil), io.Discard)
	w.Settings(ws)
	var b bridge.Config
	bs := envconfig.New("bridge", envconfig.MapLookup(nil), io.Discard)
	b.Settings(bs)
	text := string(readme)
	for _, tbl := range []struct {
		name string
		set  *envconfig.Set
	}{{"worker", ws}, {"bridge", bs}} {
		start := "<!-- " + tbl.name + "-settings:start (go test ./internal/worker -run README -update) -->\n"
		end := "<!-- " + tbl.name + "-settings:end -->"
		i, j := strings.Index(text, start), strings.Index(text, end)
		if i < 0 || j < i {
			t.Fatalf("README.md has no %s settings markers", tbl.name)
		}
		want := tbl.set.Markdown()
		if got := text[i+len(start) : j]; got != want {
			if !*update {
				t.Errorf("README.md's %s settings table is out of date; run go test ./internal/worker -run README -update", tbl.name)
			}
			text = text[:i+len(start)] + want + text[j:]
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKubernetesManifestsSetEverySetting keeps deploy/k8s in step: every
// worker setting is in its ConfigMap, its Deployment (from the Secret), or
// named in a comment saying why it is left unset.
func TestKubernetesManifestsSetEverySetting(t *testing.T) {
	var text strings.Builder
	for _, f := range []string{"worker-configmap.yaml", "worker-deployment.yaml"} {
		b, err := os.ReadFile("../../deploy/k8s/" + f)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	var w Config
	ws := envconfig.New("worker", envconfig.MapLookup(nil), io.Discard)
	w.Settings(ws)
	for _, v := range ws.Vars() {
		if !strings.Contains(text.String(), v) {
			t.Errorf("deploy/k8s does not set or mention %s", v)
		}
	}
}
