package reportsig

import "github.com/kybflow/kybflow/internal/envconfig"

// Settings name the trust store, as the worker and amlctl get read it.
type Settings struct {
	// TrustCA are PEM files of the CA certificates to trust.
	TrustCA []string
}

// Register declares the settings on s.
func (t *Settings) Register(s *envconfig.Set) {
	s.List(&t.TrustCA, "REPORT_TRUST_CA", "report-trust-ca", nil,
		"PEM files of the CA certificates a report's signer must chain to (BankID's CA, supplied by the operator); none: every intact signature is untrusted")
}

// Load reads the trust store the settings name: nil for none.
func (t Settings) Load() (*Trust, error) {
	if len(t.TrustCA) == 0 {
		return nil, nil
	}
	return LoadTrust(t.TrustCA)
}
