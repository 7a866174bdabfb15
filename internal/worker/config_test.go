package worker

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/bridge"
	"github.com/kybflow/kybflow/internal/envconfig"
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

// TestREADMEListsEverySetting keeps the README's configuration tables in
// step with the code.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var w Config
	ws := envconfig.New("worker", envconfig.MapLookup(nil), io.Discard)
	w.Settings(ws)
	var b bridge.Config
	bs := envconfig.New("bridge", envconfig.MapLookup(nil), io.Discard)
	b.Settings(bs)
	for _, v := range append(ws.Vars(), bs.Vars()...) {
		if !strings.Contains(string(readme), "`"+v+"`") {
			t.Errorf("README.md does not document %s", v)
		}
	}
}
