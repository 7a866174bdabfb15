package opshttp

import (
	"io"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/envconfig"
)

func TestSettings(t *testing.T) {
	o := DefaultSettings()
	s := envconfig.New("test", envconfig.MapLookup(map[string]string{"PPROF": "true"}), io.Discard)
	o.Register(s)
	if err := s.Parse(nil); err != nil || o.Addr != DefaultAddr || !o.Pprof {
		t.Fatalf("read %+v, %v", o, err)
	}
	// A binary with its own address and no profiles.
	b := Settings{Addr: ":9091"}
	s = envconfig.New("test", envconfig.MapLookup(nil), io.Discard)
	b.RegisterAddr(s)
	if err := s.Parse(nil); err != nil || b.Addr != ":9091" || strings.Join(s.Vars(), ",") != "HTTP_ADDR" {
		t.Fatalf("read %+v %v, %v", b, s.Vars(), err)
	}
	var ck envconfig.Checker
	Settings{}.Check(&ck)
	if err := ck.Err(); err == nil || !strings.Contains(err.Error(), "HTTP_ADDR is required") {
		t.Errorf("no address: %v", err)
	}
}
