package amlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The fuzz tests check, for any input a decoder accepts, that it does not
// panic, that the re-encoded document is a fixed point (decode, encode,
// decode, encode gives the same bytes), that presence survives the round
// trip (a requested block never becomes "not requested", an empty one stays
// empty), and that logging the document does not panic.

func seed(f *testing.F, pattern string, extra ...string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// roundTrip checks that encode∘decode is idempotent and returns both decodings.
func roundTrip[T any](t *testing.T, data []byte, decode func(io.Reader) (*T, error)) (first, second *T, ok bool) {
	t.Helper()
	first, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, nil, false
	}
	enc1, err := json.Marshal(first)
	if err != nil {
		t.Fatalf("encode a decoded document: %v", err)
	}
	second, err = decode(bytes.NewReader(enc1))
	if err != nil {
		t.Fatalf("decode our own encoding %s: %v", enc1, err)
	}
	enc2, err := json.Marshal(second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc1, enc2) {
		t.Fatalf("encoding is not stable:\n%s\n%s", enc1, enc2)
	}
	slog.New(slog.NewJSONHandler(io.Discard, nil)).Info("x", "doc", first)
	return first, second, true
}

// samePresence: NotRequested stays NotRequested, Empty stays Empty, and
// Present stays Present or (when it held only unknown fields) Empty.
func samePresence(t *testing.T, path string, a, b Presence) {
	t.Helper()
	if (a == NotRequested) != (b == NotRequested) || (a == Empty && b != Empty) {
		t.Fatalf("%s: presence %v became %v", path, a, b)
	}
}

func FuzzDecodeOrganization(f *testing.F) {
	seed(f, "organization_*.json", `{}`, `null`, `{"keyInformation":[],"financials":{"credit":{}}}`, `{"ownership":{"beneficials":[null]}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		d1, d2, ok := roundTrip(t, data, DecodeOrganization)
		if !ok {
			return
		}
		p1, p2 := d1.Presences(), d2.Presences()
		for i := range p1 {
			samePresence(t, p1[i].Path, p1[i].State, p2[i].State)
		}
	})
}

func FuzzDecodeBeneficialOwners(f *testing.F) {
	seed(f, "beneficial_owners*.json", `{}`, `{"beneficialOwners":[{"citizenship":[],"ssn":""}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		d1, d2, ok := roundTrip(t, data, DecodeBeneficialOwners)
		if !ok {
			return
		}
		samePresence(t, "beneficialOwners", d1.BeneficialOwners.State, d2.BeneficialOwners.State)
		if len(d1.BeneficialOwners.Value) != len(d2.BeneficialOwners.Value) {
			t.Fatalf("%d owners became %d", len(d1.BeneficialOwners.Value), len(d2.BeneficialOwners.Value))
		}
		for i, o1 := range d1.BeneficialOwners.Value {
			o2 := d2.BeneficialOwners.Value[i]
			samePresence(t, "citizenship", o1.Citizenship.State, o2.Citizenship.State)
			samePresence(t, "birthplace", o1.Birthplace.State, o2.Birthplace.State)
			if (o1.SSN == nil) != (o2.SSN == nil) || (o1.PercentageControl == nil) != (o2.PercentageControl == nil) {
				t.Fatalf("owner %d: ssn or percentageControl presence changed", i)
			}
		}
	})
}

// FuzzResultLinks: the links of any document are read without panic, and
// every link returned is non-empty.
func FuzzResultLinks(f *testing.F) {
	seed(f, "organization_*.json", `{"links":{"reports":{"aml":{"link":""},"x":5}}}`, `{"links":{"expires":7}}`, `{"links":[]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		links, _ := ResultLinks(data)
		for k, v := range links {
			if v == "" {
				t.Fatalf("empty link for %q", k)
			}
		}
	})
}

func FuzzDecodeSession(f *testing.F) {
	seed(f, "session_*.json", `{}`, `{"reports":{"":{}}}`, `{"created":"2025-01-01T00:00:00+23:59"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		s1, s2, ok := roundTrip(t, data, DecodeSession)
		if !ok {
			return
		}
		if s1.Status != s2.Status || s1.JSONData.Status != s2.JSONData.Status || len(s1.Reports) != len(s2.Reports) {
			t.Fatalf("session changed: %+v, %+v", s1, s2)
		}
	})
}

// FuzzShape: the outline of any body never panics, stays bounded, and
// repeats no value of the body (only keys, cut, and types).
func FuzzShape(f *testing.F) {
	f.Add([]byte(`{"jsonData": "IN_PROGRESS", "aml-report": "NOT_STARTED"}`))
	f.Add([]byte(`[{"owner": "Kari Nordmann 01017012345"}]`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := Shape(body)
		if len(s) > 4096 {
			t.Fatalf("outline of %d bytes: %d bytes", len(body), len(s))
		}
		var v map[string]any
		if json.Unmarshal(body, &v) == nil {
			keys := ""
			for k := range v {
				keys += k + " "
			}
			for _, x := range v {
				// A run of digits (a personal number, say) appears only if a
				// key holds it.
				if str, ok := x.(string); ok && len(str) >= 8 && strings.Trim(str, "0123456789") == "" &&
					strings.Contains(s, str) && !strings.Contains(keys, str) {
					t.Fatalf("the outline %q repeats the value %q", s, str)
				}
			}
		}
	})
}

// FuzzParseWebhookSecret: any text is a key or ErrWebhookSecret, never
// quoted in the error.
func FuzzParseWebhookSecret(f *testing.F) {
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Add("raw text")
	f.Fuzz(func(t *testing.T, secret string) {
		key, err := ParseWebhookSecret(secret)
		if err != nil && (!errors.Is(err, ErrWebhookSecret) || len(secret) > 12 && strings.Contains(err.Error(), secret)) {
			t.Fatalf("ParseWebhookSecret(%q) = %v", secret, err)
		}
		if err == nil && len(key) == 0 {
			t.Fatalf("ParseWebhookSecret(%q) gave an empty key", secret)
		}
	})
}

// FuzzSummarize: Summarize never panics; it fails exactly when the typed
// decoder does; what it returns holds block names, outcomes, a lower snake
// status and counts only, the same for the same input; and a document
// re-encoded by the decoder summarises the same (presence survives).
func FuzzSummarize(f *testing.F) {
	seed(f, "*_*.json", `{}`, `{"keyInformation":{"status":"Under liquidation"},"ownership":{},"sanction":{"status":"POSSIBLE_HIT"}}`,
		`{"beneficialOwners":[{}],"metadata":{"nationalRegistry":"MISSING","omittedFields":["ssn","x"]}}`)
	expands := [][]string{nil, allOrganizationExpands, {"ownership.beneficials", "sanction.ofac", "links.reports.aml"}, BeneficialExpands, {"ssn", "horoscope"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []Kind{KindOrganization, KindBeneficial} {
			var decodeErr error
			if kind == KindOrganization {
				_, decodeErr = DecodeOrganization(bytes.NewReader(data))
			} else {
				_, decodeErr = DecodeBeneficialOwners(bytes.NewReader(data))
			}
			for _, requested := range expands {
				s, err := Summarize(kind, data, requested)
				if (err == nil) != (decodeErr == nil) {
					t.Fatalf("%s: Summarize error %v, decoder error %v", kind, err, decodeErr)
				}
				if err != nil {
					continue
				}
				if (s.Organization != nil) != (kind == KindOrganization) || (s.BeneficialOwners != nil) != (kind == KindBeneficial) {
					t.Fatalf("%s: summary of the wrong kind %+v", kind, s)
				}
				checkSummary(t, s, nil)
				for _, c := range countsOf(s) {
					if c != nil && *c < 0 {
						t.Fatalf("negative count in %+v", s)
					}
				}
				again, _ := Summarize(kind, data, requested)
				if !reflect.DeepEqual(s, again) {
					t.Fatalf("two summaries of one document: %+v, %+v", s, again)
				}
				var enc []byte
				if kind == KindOrganization {
					d, _ := DecodeOrganization(bytes.NewReader(data))
					enc, _ = json.Marshal(d)
				} else {
					d, _ := DecodeBeneficialOwners(bytes.NewReader(data))
					enc, _ = json.Marshal(d)
				}
				if re, err := Summarize(kind, enc, requested); err != nil || !sameLists(s, re) {
					t.Fatalf("re-encoded %s summarises as %+v (%v), the original as %+v", enc, re, err, s)
				}
			}
		}
	})
}

func countsOf(s *Summary) []*int {
	if o := s.Organization; o != nil {
		return []*int{o.Roles, o.SignatureRights, o.BeneficialOwners, o.Shareholders, o.Subsidiaries}
	}
	return []*int{s.BeneficialOwners.Owners}
}

// sameLists: what is empty stays empty, and what is left out stays left
// out, but for a block that re-encodes empty: a present block holding only
// unknown fields re-encodes as {} (see samePresence), which empties the
// blocks inside it.
func sameLists(a, b *Summary) bool {
	for _, x := range a.Empty {
		if !slices.Contains(b.Empty, x) {
			return false
		}
	}
	for _, x := range a.Omitted {
		if !slices.Contains(b.Omitted, x) && !slices.Contains(b.Empty, x) {
			return false
		}
	}
	for _, x := range b.Omitted {
		if !slices.Contains(a.Omitted, x) {
			return false
		}
	}
	return true
}
