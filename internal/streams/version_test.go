package streams

import "testing"

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		have string
		ok   bool
	}{{"2.15.2", true}, {"2.14.0", true}, {"2.14.0-RC.1", true}, {"v2.20.1", true}, {"3.0.0", true},
		{"2.13.9", false}, {"2.12.3", false}, {"1.99.0", false}, {"2.9", false}} {
		if got := versionAtLeast(c.have, MinServerVersion); got != c.ok {
			t.Errorf("versionAtLeast(%q, %q) = %t", c.have, MinServerVersion, got)
		}
	}
}
