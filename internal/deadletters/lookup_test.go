package deadletters_test

import (
	"slices"
	"testing"
)

// TestLookup attributes dead letters to lookups by the lookupId of their
// body and the tenant of their subject, and erases those of one lookup.
func TestLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	untenanted := e.deadLetter("aml.commands.lookup", `{"lookupId":"x","type":"nope"}`)
	acme := e.deadLetter("aml.commands.lookup.acme", `{"lookupId":"x","type":"nope"}`)
	wrongSubject := e.deadLetter("aml.commands.other", `{"lookupId":"x","type":"organization","identifier":"923609016"}`)
	noHeader := e.deadLetter("", `{"lookupId":"x"}`)
	truncated := e.deadLetter("aml.commands.lookup.acme", `{"correlationId":"c","lookupId":"x","metadata":{"pad":"xxxx`)
	other := e.deadLetter("aml.commands.lookup.acme", `{"lookupId":"y"}`)
	notJSON := e.deadLetter("aml.commands.lookup.acme", `lookupId x please`)
	nested := e.deadLetter("aml.commands.lookup.acme", `{"metadata":{"lookupId":"x"}}`)
	invalid := e.deadLetter("aml.commands.lookup", `{"lookupId":"x.y"}`)

	for _, c := range []struct {
		key  string
		want []uint64
	}{
		{"x", []uint64{untenanted, wrongSubject, noHeader}},
		{"acme.x", []uint64{acme, wrongSubject, noHeader, truncated}},
		{"other.x", []uint64{wrongSubject, noHeader}},
		{"acme.y", []uint64{other}},
		{"y", nil},
		{"x.y", nil}, // the key of tenant x's lookup y: invalid's body names lookupId "x.y", which no lookup has
		{"not a key", nil},
	} {
		got, err := e.dl.OfLookup(ctx, c.key)
		if err != nil || !slices.Equal(seqs(got), c.want) {
			t.Errorf("OfLookup(%q) = %v, %v; want %v", c.key, seqs(got), err, c.want)
		}
	}

	deleted, err := e.dl.EraseLookup(ctx, "acme.x")
	if want := []uint64{acme, wrongSubject, noHeader, truncated}; err != nil || !slices.Equal(deleted, want) {
		t.Fatalf("EraseLookup(acme.x) = %v, %v; want %v", deleted, err, want)
	}
	all, err := e.dl.List(ctx)
	if want := []uint64{untenanted, other, notJSON, nested, invalid}; err != nil || !slices.Equal(seqs(all), want) {
		t.Errorf("left: %v, %v; want %v", seqs(all), err, want)
	}
	if deleted, err := e.dl.EraseLookup(ctx, "acme.x"); err != nil || len(deleted) != 0 {
		t.Errorf("second EraseLookup = %v, %v; want nothing", deleted, err)
	}
}
