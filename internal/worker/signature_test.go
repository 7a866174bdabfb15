// Reports' signatures through the pipeline: the sandbox signs (or breaks)
// its reports, the worker checks them as they stream into MinIO.

package worker

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/reportsig"
	"github.com/kybflow/kybflow/internal/sandbox"
	"github.com/kybflow/kybflow/internal/testenv"
)

// trustSandbox makes every worker of e trust the sandbox's report CA, as
// an operator trusts BankID's (REPORT_TRUST_CA), under policy.
func trustSandbox(e *env, policy string) {
	e.adjust = func(c *Config) {
		c.ReportTrust = reportsig.NewTrust(e.sb.Sandbox().ReportCA())
		c.ReportSignaturePolicy = policy
	}
}

// reportInfo is the stored object of the lookup's AML report.
func (e *env) reportInfo(lookupID string) (blob.Info, error) {
	st, err := blob.NewS3(context.Background(), blob.S3Config{Endpoint: e.s3.Endpoint, Bucket: e.bucket, AccessKey: e.s3.AccessKey, SecretKey: e.s3.SecretKey})
	if err != nil {
		return blob.Info{}, err
	}
	key, err := kybflow.ObjectKeys{}.Key(lookupID, kybflow.ReportArtifactName("aml"))
	if err != nil {
		return blob.Info{}, err
	}
	return st.Stat(context.Background(), key)
}

// TestReportSignatures: a valid, a tampered, an untrusted and an unsigned
// report are each stored and flagged (the default policy), in the event
// and in the object's metadata.
func TestReportSignatures(t *testing.T) {
	e := newEnv(t, envOptions{s3: true})
	trustSandbox(e, PolicyFlag)
	e.start(false, 1)
	cases := []struct {
		id, identifier string
		status         kybflow.SignatureStatus
		reason         string
	}{
		{"sig-valid", "923609016", kybflow.SignatureValid, ""},
		{"sig-tampered", sandbox.ReportTamperedNO, kybflow.SignatureInvalid, "changed after signing"},
		{"sig-untrusted", sandbox.ReportUntrustedNO, kybflow.SignatureUntrusted, "does not chain"},
		{"sig-unsigned", sandbox.ReportUnsignedNO, kybflow.SignatureUnsigned, "no signature"},
	}
	for _, c := range cases {
		e.publish(cmd{LookupID: c.id, Type: "organization", Identifier: c.identifier, Reports: []string{"aml"}}, c.id)
	}
	for _, c := range cases {
		d := completedData(t, e.terminal(c.id, 30*time.Second))
		var sig *kybflow.ReportSignature
		for _, a := range d.Artifacts {
			if a.Name == kybflow.ReportArtifactName("aml") {
				sig = a.Signature
			} else if a.Signature != nil {
				t.Errorf("%s: artifact %s has a signature %+v", c.id, a.Name, a.Signature)
			}
		}
		if sig == nil || sig.Status != c.status || !strings.Contains(sig.Reason, c.reason) {
			t.Errorf("%s: signature %+v; want %s, reason with %q", c.id, sig, c.status, c.reason)
			continue
		}
		if c.status != kybflow.SignatureUnsigned && (!strings.Contains(sig.Signer, "CN=") || sig.SignedAt == nil) {
			t.Errorf("%s: signature %+v; want its signer and signing time", c.id, sig)
		}
		info, err := e.reportInfo(c.id)
		if err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		if got := info.Metadata[kybflow.ObjectMetaSignature]; got != string(c.status) {
			t.Errorf("%s: object metadata %v; want signature %s", c.id, info.Metadata, c.status)
		}
		if sig.SignedAt != nil && info.Metadata[kybflow.ObjectMetaSignatureSignedAt] != sig.SignedAt.Format(time.RFC3339) {
			t.Errorf("%s: object metadata %v; want signature-signed-at %s", c.id, info.Metadata, sig.SignedAt.Format(time.RFC3339))
		}
	}

}

// TestReportNotPDF: a report link that answers something that is not a
// PDF is never stored; it is asked for again at each poll, and once the
// results can no longer be read (3 s here) the lookup completes without
// it, listed missing.
func TestReportNotPDF(t *testing.T) {
	e := newEnv(t, envOptions{s3: true, sandbox: sandbox.Config{Lifetime: 3 * time.Second}})
	trustSandbox(e, PolicyFlag)
	e.logs = new(testenv.Buffer)
	e.start(false, 1)
	e.publish(cmd{LookupID: "sig-notpdf", Type: "organization", Identifier: sandbox.ReportNotPDFNO, Reports: []string{"aml"}}, "sig-notpdf")
	d := completedData(t, e.terminal("sig-notpdf", 30*time.Second))
	if len(d.Artifacts) != 1 || d.Artifacts[0].Name != kybflow.ArtifactJSON || !slices.Equal(d.MissingReports, []kybflow.ReportType{kybflow.ReportAML}) {
		t.Errorf("completed %+v; want the JSON only, report aml missing", d)
	}
	if _, err := e.reportInfo("sig-notpdf"); err == nil {
		t.Error("a report that is not a PDF was stored")
	}
	if !strings.Contains(e.logs.String(), "report not stored") || !strings.Contains(e.logs.String(), "not a PDF") {
		t.Error("no log of the report not stored, not a PDF")
	}
	e.assertExactlyOnce("sig-notpdf")
}

// TestReportSignaturePolicyFail: under REPORT_SIGNATURE_POLICY=fail a
// tampered report fails its lookup with report_signature_invalid, and a
// valid one completes.
func TestReportSignaturePolicyFail(t *testing.T) {
	e := newEnv(t, envOptions{s3: true})
	trustSandbox(e, PolicyFail)
	e.start(false, 1)
	e.publish(cmd{LookupID: "fail-tampered", Type: "organization", Identifier: sandbox.ReportTamperedNO, Reports: []string{"aml"}}, "fail-tampered")
	e.publish(cmd{LookupID: "fail-valid", Type: "organization", Identifier: "923609016", Reports: []string{"aml"}}, "fail-valid")
	f := failedData(t, e.terminal("fail-tampered", 30*time.Second))
	if f.Code != kybflow.CodeReportSignatureInvalid || !strings.Contains(f.Reason, "report:aml") || !strings.Contains(f.Reason, "invalid") {
		t.Errorf("tampered report under policy fail: %+v", f)
	}
	d := completedData(t, e.terminal("fail-valid", 30*time.Second))
	if len(d.Artifacts) != 2 || d.Artifacts[1].Signature == nil || d.Artifacts[1].Signature.Status != kybflow.SignatureValid {
		t.Errorf("valid report under policy fail: %+v", d.Artifacts)
	}
	e.assertExactlyOnce("fail-tampered")
	e.assertExactlyOnce("fail-valid")
}

// TestReportSignatureConfig: the policy and the trust store are checked at
// start, each error naming its variable.
func TestReportSignatureConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"REPORT_SIGNATURE_POLICY": "reject"}, `REPORT_SIGNATURE_POLICY: "reject" is not flag or fail`},
		{map[string]string{"REPORT_SIGNATURE_POLICY": "fail"}, "REPORT_SIGNATURE_POLICY: fail needs REPORT_TRUST_CA"},
		{map[string]string{"REPORT_TRUST_CA": "/nonexistent/ca.pem"}, "REPORT_TRUST_CA: trust store: open /nonexistent/ca.pem"},
	} {
		env := map[string]string{"NATS_URL": "nats://127.0.0.1:4222", "AML_API_URL": "http://127.0.0.1:1", "AML_ISSUER_URL": "http://127.0.0.1:1/realms/x",
			"AML_CLIENT_ID": "id", "AML_CLIENT_SECRET": "secret", "BLOB_DIR": t.TempDir()}
		for k, v := range c.env {
			env[k] = v
		}
		_, err := loadConfig(t, env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want an error with %q", c.env, err, c.want)
		}
	}
}
