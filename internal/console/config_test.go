package console

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/envconfig"
)

func parse(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	var cfg Config
	set := envconfig.New("console", envconfig.MapLookup(env), io.Discard)
	cfg.Settings(set)
	if err := set.Parse(nil); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func TestConfig(t *testing.T) {
	cfg, err := parse(t, map[string]string{"BLOB_DIR": "/tmp/results"})
	if err != nil || cfg.Listen != DefaultListen || !cfg.Loopback() || cfg.SubjectPrefix != "aml" || cfg.NATS.InboxPrefix != "_INBOX_kybflow_console" {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "S3_ENDPOINT"},
		{map[string]string{"S3_ENDPOINT": "minio:9000"}, "S3_ACCESS_KEY"},
		{map[string]string{"BLOB_DIR": "/r", "S3_ENDPOINT": "minio:9000"}, "BLOB_DIR"},
		{map[string]string{"BLOB_DIR": "/r", "CONSOLE_LISTEN": "8090"}, "CONSOLE_LISTEN"},
		{map[string]string{"BLOB_DIR": "/r", "CONSOLE_PUBLIC_URL": "console.example"}, "CONSOLE_PUBLIC_URL"},
		{map[string]string{"BLOB_DIR": "/r", "AML_SUBJECT_PREFIX": "a b"}, "AML_SUBJECT_PREFIX"},
		{map[string]string{"BLOB_DIR": "/r", "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
	} {
		if _, err := parse(t, tt.env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:8090": true, "[::1]:8090": true, "localhost:0": true, ":8090": false, "0.0.0.0:8090": false, "10.0.0.1:8090": false} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v", addr, got)
		}
	}
}

func TestStartRefusesNoLoginBeyondLoopback(t *testing.T) {
	cfg, err := parse(t, map[string]string{"BLOB_DIR": t.TempDir(), "CONSOLE_LISTEN": "0.0.0.0:0"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(t.Context(), cfg, testLogger(t), Options{})
	if err == nil || !strings.Contains(err.Error(), "CONSOLE_LISTEN") || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Start without a login on 0.0.0.0: %v", err)
	}
}

func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	err := Main(t.Context(), []string{"--help"}, envconfig.MapLookup(nil), io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"CONSOLE_LISTEN", "CONSOLE_PUBLIC_URL", "NATS_URL", "BLOB_DIR", "S3_ENDPOINT", "AML_SUBJECT_PREFIX", "LOG_LEVEL"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
}
