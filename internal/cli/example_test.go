package cli_test

import (
	"os"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/cli"
)

func ExamplePrintArtifacts() {
	d := kybflow.CompletedData{
		LookupID: "onb-2026-000123",
		Artifacts: []kybflow.Artifact{
			{Name: "json", Bucket: "kybflow-results", Key: "lookups/onb-2026-000123/json.json", Size: 1000,
				SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ContentType: "application/json"},
			{Name: "report:aml", Bucket: "kybflow-results", Key: "lookups/onb-2026-000123/report-aml.pdf", Size: 20480,
				SHA256: "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", ContentType: "application/pdf",
				Signature: &kybflow.ReportSignature{Status: kybflow.SignatureValid, Signer: "CN=BankID AML Reports"}},
		},
	}
	cli.PrintArtifacts(os.Stdout, d, "")
	// Output:
	// ARTIFACT    SIZE      SHA256        SIGNATURE  OBJECT
	// json        1000 B    0123456789ab  -          kybflow-results/lookups/onb-2026-000123/json.json
	// report:aml  20.0 KiB  fedcba987654  valid      kybflow-results/lookups/onb-2026-000123/report-aml.pdf
}
