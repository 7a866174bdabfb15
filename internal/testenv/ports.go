package testenv

// Free ports for servers that a test starts later (processes, or servers
// that must be given their port): picked below the kernel's ephemeral port
// range. A port the OS picks for 127.0.0.1:0 comes from that range, which
// every outgoing connection of every process draws from too, so between
// the pick and the server's bind a client connection can take it ("bind:
// address already in use"). Below the range, only another listener can.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Ports are picked in [portsLow, the ephemeral range's low end).
const (
	portsLow   = 10000
	portsTries = 200
)

// FreeAddrs returns n distinct 127.0.0.1 addresses whose ports were free a
// moment ago, below the ephemeral range (or from the OS, when that range
// leaves no room below it).
func FreeAddrs(n int) ([]string, error) {
	high := ephemeralLow()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	out := make([]string, 0, n)
	for tries := 0; len(out) < n; tries++ {
		addr := "127.0.0.1:0"
		if high-portsLow > 1000 && tries < portsTries {
			addr = "127.0.0.1:" + strconv.Itoa(portsLow+rand.IntN(high-portsLow)) //nolint:gosec // G404: a port, not a secret
		}
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
		if err != nil {
			if tries < portsTries {
				continue // taken: another
			}
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		held = append(held, l) // held until all are picked, so that they differ
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// FreeAddr is FreeAddrs(1)'s address.
func FreeAddr() (string, error) {
	a, err := FreeAddrs(1)
	if err != nil {
		return "", err
	}
	return a[0], nil
}

// FreePorts is FreeAddrs as port numbers.
func FreePorts(n int) ([]int, error) {
	addrs, err := FreeAddrs(n)
	if err != nil {
		return nil, err
	}
	ports := make([]int, n)
	for i, a := range addrs {
		_, p, err := net.SplitHostPort(a)
		if err == nil {
			ports[i], err = strconv.Atoi(p)
		}
		if err != nil {
			return nil, fmt.Errorf("free port %q: %w", a, err)
		}
	}
	return ports, nil
}

// ephemeralLow is the low end of the kernel's ephemeral port range (Linux;
// elsewhere, or unreadable, the IANA range's 49152).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 49152
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 49152
	}
	lo, err := strconv.Atoi(fields[0])
	if err != nil {
		return 49152
	}
	return lo
}
