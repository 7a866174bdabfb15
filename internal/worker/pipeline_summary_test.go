// The summary of the JSON result in real completed events: sandbox, NATS and MinIO.

package worker

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// TestCompletedEventsSummarizeTheJSON: each completed event summarises the
// JSON stored in MinIO as the client's model reads it, with no string of
// the JSON but block names in it; a sanction hit, an organization without
// owners, and beneficial owners whose National Registry details were
// withheld say so.
func TestCompletedEventsSummarizeTheJSON(t *testing.T) {
	e := newEnv(t, envOptions{s3: true, sandbox: sandbox.Config{NationalRegistry: amlapi.AccessMissing}})
	e.start(false, 1)
	cases := []struct {
		c     cmd
		check func(t *testing.T, s *kybflow.Summary)
	}{
		{cmd{LookupID: "sum-hit", Type: "organization", Identifier: sandbox.SanctionHitNO, Expands: []string{"sanction", "roles", "authorities"}},
			func(t *testing.T, s *kybflow.Summary) {
				o := s.Organization
				if o.Sanction != kybflow.SanctionHit || o.Status != kybflow.StatusActive || o.Roles == nil || *o.Roles == 0 ||
					o.SignatureRights == nil || *o.SignatureRights != 1 || o.BeneficialOwners != nil {
					t.Errorf("sanction hit: %s", enc(s))
				}
			}},
		{cmd{LookupID: "sum-no-owners", Type: "organization", Identifier: sandbox.NoOwnersNO, Expands: []string{"ownership"}},
			func(t *testing.T, s *kybflow.Summary) {
				o := s.Organization
				if o.Sanction != kybflow.SanctionNotRequested || o.BeneficialOwners == nil || *o.BeneficialOwners != 0 ||
					!slices.Contains(s.Empty, "ownership.beneficials") || len(s.Omitted) != 0 {
					t.Errorf("no owners: %s", enc(s))
				}
			}},
		{cmd{LookupID: "sum-bo", Type: "beneficial_owners", Identifier: "974760673", Expands: []string{"birthplace", "citizenship"}},
			func(t *testing.T, s *kybflow.Summary) {
				b := s.BeneficialOwners
				if b == nil || b.Owners == nil || *b.Owners == 0 || !b.DetailsWithheld || !slices.Equal(s.Omitted, []string{"birthplace", "citizenship"}) {
					t.Errorf("owners without National Registry access: %s", enc(s))
				}
			}},
	}
	for _, c := range cases {
		e.publish(c.c, c.c.LookupID)
	}
	for _, c := range cases {
		d := completedData(t, e.terminal(c.c.LookupID, 30*time.Second))
		s := d.Summary
		if s == nil || s.Unavailable != "" || s.Validate() != nil {
			t.Fatalf("%s: summary %s", c.c.LookupID, enc(s))
		}
		t.Logf("%s: %s", c.c.LookupID, enc(s))
		c.check(t, s)
		kind := amlapi.KindOrganization
		if c.c.Type == "beneficial_owners" {
			kind = amlapi.KindBeneficial
			if !slices.Equal(d.OmittedExpands, s.Omitted) {
				t.Errorf("%s: omittedExpands %q, summary omitted %q", c.c.LookupID, d.OmittedExpands, s.Omitted)
			}
		}
		doc := e.readArtifact(d, kybflow.ArtifactJSON)
		want, err := amlapi.Summarize(kind, doc, c.c.Expands)
		if err != nil {
			t.Fatalf("%s: the stored JSON: %v", c.c.LookupID, err)
		}
		if enc(want) != enc(s) {
			t.Errorf("%s: event summary %s, the stored JSON's %s", c.c.LookupID, enc(s), enc(want))
		}
		var values any
		if err := json.Unmarshal(doc, &values); err != nil {
			t.Fatal(err)
		}
		blocks := slices.Concat(s.Empty, s.Omitted)
		for _, v := range stringValues(values) {
			if len(v) >= 3 && !slices.Contains(blocks, v) && strings.Contains(enc(s), `"`+v+`"`) {
				t.Errorf("%s: the summary repeats %q of the JSON: %s", c.c.LookupID, v, enc(s))
			}
		}
	}
}

// readArtifact reads the stored object of the artifact named name.
func (e *env) readArtifact(d kybflow.CompletedData, name string) []byte {
	e.t.Helper()
	i := slices.IndexFunc(d.Artifacts, func(a kybflow.Artifact) bool { return a.Name == name })
	if i < 0 {
		e.t.Fatalf("no artifact %s in %v", name, d.Artifacts)
	}
	a, ctx := d.Artifacts[i], context.Background()
	st, err := blob.NewS3(ctx, blob.S3Config{Endpoint: e.s3.Endpoint, Bucket: a.Bucket, AccessKey: e.s3.AccessKey, SecretKey: e.s3.SecretKey})
	if err != nil {
		e.t.Fatal(err)
	}
	rc, _, err := st.Get(ctx, a.Key)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// stringValues is every string value (not key) of a decoded JSON value.
func stringValues(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case map[string]any:
		for _, x := range v {
			out = append(out, stringValues(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, stringValues(x)...)
		}
	}
	return out
}

func enc(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
