package envconfig

import (
	"io"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  string
	}{
		{"65536", 65536, ""},
		{"0", 0, ""},
		{"100B", 100, ""},
		{"64KiB", 64 << 10, ""},
		{"64 kib", 64 << 10, ""},
		{"512MiB", 512 << 20, ""},
		{"2GiB", 2 << 30, ""},
		{"1TiB", 1 << 40, ""},
		{"1GB", 0, "like 65536, 64KiB or 1GiB"}, // decimal units are refused, not guessed at
		{"1G", 0, "like"},
		{"1.5GiB", 0, "like"},
		{"-1", 0, "like"},
		{"+1", 0, "like"},
		{"GiB", 0, "like"},
		{"", 0, "like"},
		{"9000000TiB", 0, "too large"},
	} {
		got, err := ParseBytes(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseBytes(%q) = %d, %v; want an error quoting it, with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatBytesRoundTrips(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 100: "100", 1024: "1KiB", 1536 << 10: "1536KiB", 72 << 10: "72KiB", 2 << 30: "2GiB", 1<<40 + 1: "1099511627777"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
		if back, err := ParseBytes(FormatBytes(n)); err != nil || back != n {
			t.Errorf("ParseBytes(FormatBytes(%d)) = %d, %v", n, back, err)
		}
	}
}

func TestBytesSetting(t *testing.T) {
	var n int64
	s := New("test", MapLookup(map[string]string{"EVENTS_MAX_BYTES": "1GB"}), io.Discard)
	s.Bytes(&n, "EVENTS_MAX_BYTES", "events-max-bytes", 2<<30, "bytes of events")
	err := s.Parse(nil)
	if err == nil || !strings.Contains(err.Error(), "EVENTS_MAX_BYTES (--events-max-bytes)") {
		t.Errorf("a bad size: %v, want an error naming the variable and the flag", err)
	}
	s = New("test", MapLookup(nil), io.Discard)
	s.Bytes(&n, "EVENTS_MAX_BYTES", "events-max-bytes", 2<<30, "bytes of events")
	if err := s.Parse([]string{"--events-max-bytes=512MiB"}); err != nil || n != 512<<20 {
		t.Errorf("--events-max-bytes=512MiB: %d, %v", n, err)
	}
	if md := s.Markdown(); !strings.Contains(md, "| `2GiB` |") {
		t.Errorf("the README shows the default as %s, want 2GiB", md)
	}
}
