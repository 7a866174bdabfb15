package deadletters_test

import (
	"slices"
	"testing"
)

// TestMonitor attributes dead letters to monitors by the monitorId of
// their body and the tenant of their monitor command subject, never to a
// monitor from a lookup command subject, and erases those of one monitor.
func TestMonitor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	untenanted := e.deadLetter("aml.commands.monitor", `{"action":"create","monitorId":"m"}`)
	acme := e.deadLetter("aml.commands.monitor.acme", `{"action":"pause","monitorId":"m"}`)
	wrongSubject := e.deadLetter("aml.commands.other", `{"monitorId":"m"}`)
	noHeader := e.deadLetter("", `{"monitorId":"m"}`)
	truncated := e.deadLetter("aml.commands.monitor.acme", `{"correlationId":"c","monitorId":"m","metadata":{"pad":"xxxx`)
	lookup := e.deadLetter("aml.commands.lookup.acme", `{"lookupId":"m","monitorId":"m"}`) // a lookup's
	other := e.deadLetter("aml.commands.monitor.acme", `{"monitorId":"n"}`)
	nested := e.deadLetter("aml.commands.monitor.acme", `{"lookup":{"monitorId":"m"}}`)

	for _, c := range []struct {
		key  string
		want []uint64
	}{
		{"m", []uint64{untenanted, wrongSubject, noHeader}},
		{"acme.m", []uint64{acme, wrongSubject, noHeader, truncated}},
		{"other.m", []uint64{wrongSubject, noHeader}},
		{"acme.n", []uint64{other}},
		{"not a key", nil},
	} {
		got, err := e.dl.OfMonitor(ctx, c.key)
		if err != nil || !slices.Equal(seqs(got), c.want) {
			t.Errorf("OfMonitor(%q) = %v, %v; want %v", c.key, seqs(got), err, c.want)
		}
	}

	deleted, err := e.dl.EraseMonitor(ctx, "acme.m")
	if want := []uint64{acme, wrongSubject, noHeader, truncated}; err != nil || !slices.Equal(deleted, want) {
		t.Fatalf("EraseMonitor(acme.m) = %v, %v; want %v", deleted, err, want)
	}
	all, err := e.dl.List(ctx)
	if want := []uint64{untenanted, lookup, other, nested}; err != nil || !slices.Equal(seqs(all), want) {
		t.Errorf("left: %v, %v; want %v", seqs(all), err, want)
	}
}
