package kybflow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
)

func TestObjectKeys(t *testing.T) {
	tests := []struct {
		prefix, name, want, contentType string
	}{
		{"", kybflow.ArtifactJSON, "lookups/L-1/json.json", "application/json"},
		{"", kybflow.ReportArtifactName(kybflow.ReportAML), "lookups/L-1/report-aml.pdf", "application/pdf"},
		{"", kybflow.ReportArtifactName(kybflow.ReportCertificateOfIncorporation), "lookups/L-1/report-certificate_of_incorporation.pdf", "application/pdf"},
		{"tenant-a/aml.v1", kybflow.ArtifactJSON, "tenant-a/aml.v1/L-1/json.json", "application/json"},
		{"", "report:future_report", "lookups/L-1/report-future_report.pdf", "application/pdf"}, // tolerated
	}
	for _, tt := range tests {
		k := kybflow.ObjectKeys{Prefix: tt.prefix}
		got, err := k.Key("L-1", tt.name)
		if err != nil || got != tt.want {
			t.Errorf("Key(%q, %q) = %q, %v; want %q", tt.prefix, tt.name, got, err, tt.want)
		}
		if !strings.HasPrefix(got, k.LookupPrefix("L-1")) {
			t.Errorf("%q is not under LookupPrefix %q", got, k.LookupPrefix("L-1"))
		}
		if ct := kybflow.ArtifactContentType(tt.name); ct != tt.contentType {
			t.Errorf("ArtifactContentType(%q) = %q", tt.name, ct)
		}
	}
	if r, ok := kybflow.ArtifactReport("report:aml"); !ok || r != kybflow.ReportAML {
		t.Errorf("ArtifactReport = %q, %v", r, ok)
	}
	for _, bad := range []struct{ prefix, lookupID, name string }{
		{"", "a.b.c", "json"},
		{"", "L-1", "pdf"},
		{"", "L-1", "report:"},
		{"", "L-1", "report:../x"},
		{"/abs", "L-1", "json"},
		{"trailing/", "L-1", "json"},
		{"a/../b", "L-1", "json"},
		{"a b", "L-1", "json"},
	} {
		if got, err := (kybflow.ObjectKeys{Prefix: bad.prefix}).Key(bad.lookupID, bad.name); err == nil {
			t.Errorf("Key(%+v) = %q, want an error", bad, got)
		}
	}
	assertEqual(t, kybflow.ObjectMetadata("L-1", "s-1", "json"), map[string]string{
		"lookup-id": "L-1", "session-id": "s-1", "artifact": "json",
	})
}

func TestDeadLetter(t *testing.T) {
	err := errors.New("invalid_command: command is not valid JSON:\ninvalid character '\\x00'\r\n") //nolint:revive // the line breaks are what is tested
	if got := kybflow.DeadLetterReason(err); strings.ContainsAny(got, "\r\n") || !strings.HasPrefix(got, "invalid_command: ") {
		t.Errorf("DeadLetterReason = %q", got)
	}
	long := kybflow.DeadLetterReason(errors.New(strings.Repeat("ø", 1000)))
	if len(long) > kybflow.MaxDeadLetterReasonLength || !strings.HasSuffix(long, "ø") {
		t.Errorf("DeadLetterReason: %d bytes, ends %q", len(long), long[len(long)-2:])
	}
	if kybflow.DeadLetterReason(nil) != "" {
		t.Error("DeadLetterReason(nil)")
	}
	if got := kybflow.DeadLetterMsgID(kybflow.StreamCommands, 42); got != "AML_COMMANDS.42" {
		t.Errorf("DeadLetterMsgID = %q", got)
	}
}
