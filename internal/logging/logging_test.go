package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("hello")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"hello"`) {
		t.Fatalf("log output %s", out)
	}
	if _, err := New(&buf, "xml", "info"); err == nil || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Fatalf("bad format: %v", err)
	}
	if _, err := New(&buf, "json", "loud"); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Fatalf("bad level: %v", err)
	}
}
