package testenv

import (
	"net"
	"strconv"
	"testing"
)

// Free ports are distinct, bindable, and below the ephemeral range, where
// no outgoing connection can take them before the server binds.
func TestFreePortsAreBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	ports, err := FreePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d picked twice in %v", p, ports)
		}
		seen[p] = true
		if low-portsLow > 1000 && (p < portsLow || p >= low) {
			t.Errorf("port %d outside [%d, %d)", p, portsLow, low)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		_ = l.Close()
	}
}
