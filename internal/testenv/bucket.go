package testenv

import (
	"strings"
	"testing"
)

// BucketName returns a valid S3 bucket name, unique per call, derived from
// the test's name so that a bucket left in MinIO's data directory points back
// to its test. It creates nothing.
func BucketName(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	dash := true // no leading dash, no runs of dashes
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	const maxPrefix = 63 - 1 - 8 // name-xxxxxxxx
	if len(name) > maxPrefix {
		name = strings.TrimRight(name[:maxPrefix], "-")
	}
	if name == "" {
		name = "test"
	}
	return name + "-" + randomHex(4)
}
