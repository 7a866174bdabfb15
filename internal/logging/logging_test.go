package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewAndRedacted(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("hello", "ssn", Redacted("01817512345"))
	out := buf.String()
	if strings.Contains(out, "hidden") || strings.Contains(out, "01817512345") || !strings.Contains(out, `"ssn":"[redacted]"`) {
		t.Fatalf("log output %s", out)
	}
	if _, err := New(&buf, "xml", "info"); err == nil || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Fatalf("bad format: %v", err)
	}
	if _, err := New(&buf, "json", "loud"); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Fatalf("bad level: %v", err)
	}
}
