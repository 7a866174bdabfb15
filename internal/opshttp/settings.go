package opshttp

// The ops endpoint's group of settings (HTTP_ADDR, PPROF), declared here
// once for every binary (see internal/envconfig, Groups).

import "github.com/kybflow/kybflow/internal/envconfig"

// DefaultAddr is the worker's ops address. Another binary that may run on
// the same host gives its own (the bridge's is bridge.DefaultHTTPAddr).
const DefaultAddr = ":9090"

// Settings are where the ops endpoint listens and what it serves.
type Settings struct {
	// Addr is the address of /healthz, /readyz and /metrics (HTTP_ADDR).
	Addr string
	// Pprof also serves Go's profiles (WithProfiling) (PPROF). Off by
	// default.
	Pprof bool
}

// DefaultSettings listen on DefaultAddr, without profiles.
func DefaultSettings() Settings { return Settings{Addr: DefaultAddr} }

// Register registers HTTP_ADDR and PPROF, with the values o holds as their
// defaults.
func (o *Settings) Register(s *envconfig.Set) {
	o.RegisterAddr(s)
	s.Bool(&o.Pprof, "PPROF", "pprof", o.Pprof, "also serve Go's profiles under /debug/pprof/ on HTTP_ADDR (for an operator on a trusted network)")
}

// RegisterAddr registers HTTP_ADDR alone, for a binary that serves no
// profiles (the bridge).
func (o *Settings) RegisterAddr(s *envconfig.Set) {
	s.String(&o.Addr, "HTTP_ADDR", "http-addr", o.Addr, "address of /healthz, /readyz and /metrics")
}

// Check reports a missing address.
func (o Settings) Check(ck *envconfig.Checker) { ck.Require("HTTP_ADDR", o.Addr) }
