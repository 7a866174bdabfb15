// Harness assertions: exactly-once events, event data, stored artifacts, sandbox sessions.

package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
)

// assertExactlyOnce checks that lookupID has exactly one terminal event and
// no event twice (run a marker first: duplicates come late).
func (e *env) assertExactlyOnce(lookupID string) {
	e.t.Helper()
	seen := map[kybflow.Kind]int{}
	terminal := 0
	for _, k := range e.eventsOf(lookupID) {
		seen[k]++
		if k.Terminal() {
			terminal++
		}
	}
	for k, n := range seen {
		if n > 1 {
			e.t.Errorf("%s: event %s published %d times", lookupID, k, n)
		}
	}
	if terminal != 1 {
		e.t.Errorf("%s: %d terminal events, want exactly 1 (%v)", lookupID, terminal, e.eventsOf(lookupID))
	}
}

func completedData(t *testing.T, ev kybflow.Event) kybflow.CompletedData {
	t.Helper()
	d, ok := ev.Data.(kybflow.CompletedData)
	if !ok {
		t.Fatalf("event %s is %s with data %T, want completed: %+v", ev.ID, ev.Type, ev.Data, ev.Data)
	}
	return d
}

func failedData(t *testing.T, ev kybflow.Event) kybflow.FailedData {
	t.Helper()
	d, ok := ev.Data.(kybflow.FailedData)
	if !ok {
		t.Fatalf("event %s is %s with data %T, want failed: %+v", ev.ID, ev.Type, ev.Data, ev.Data)
	}
	return d
}

// verifyArtifacts reads every artifact back from the store, as a downstream
// service would, and checks size, sha256 and content type.
func (e *env) verifyArtifacts(d kybflow.CompletedData, wantNames ...string) {
	e.t.Helper()
	ctx := context.Background()
	got := map[string]bool{}
	for _, a := range d.Artifacts {
		got[a.Name] = true
		var rc io.ReadCloser
		var err error
		if e.s3 != nil {
			st, serr := blob.NewS3(ctx, blob.S3Config{Endpoint: e.s3.Endpoint, Bucket: a.Bucket, AccessKey: e.s3.AccessKey, SecretKey: e.s3.SecretKey})
			if serr != nil {
				e.t.Fatal(serr)
			}
			rc, _, err = st.Get(ctx, a.Key)
		} else {
			st, derr := blob.NewDir(e.blobDir)
			if derr != nil {
				e.t.Fatal(derr)
			}
			rc, _, err = st.Get(ctx, a.Key)
		}
		if err != nil {
			e.t.Fatalf("artifact %s at %s: %v", a.Name, a.Key, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		if n != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256 {
			e.t.Errorf("artifact %s: stored %d bytes sha256 %x; event says %d bytes sha256 %s", a.Name, n, h.Sum(nil), a.Size, a.SHA256)
		}
		if n == 0 {
			e.t.Errorf("artifact %s is empty", a.Name)
		}
		wantCT := kybflow.ArtifactContentType(a.Name)
		if !strings.HasPrefix(a.ContentType, wantCT) {
			e.t.Errorf("artifact %s content type %q, want %q", a.Name, a.ContentType, wantCT)
		}
	}
	for _, n := range wantNames {
		if !got[n] {
			e.t.Errorf("artifact %s missing from %v", n, d.Artifacts)
		}
	}
	if len(d.Artifacts) != len(wantNames) {
		e.t.Errorf("%d artifacts, want %d (%v)", len(d.Artifacts), len(wantNames), wantNames)
	}
}

// sessions is how many sessions the sandbox opened for an identifier.
func (e *env) sessions(kind, country, identifier string) int {
	ins := e.sb.Sandbox().Inspect()
	if kind == "beneficial" {
		return ins.SessionsPerIdentifier["beneficial/"+identifier] + ins.SessionsPerIdentifier["beneficial/NO/"+identifier]
	}
	return ins.SessionsPerIdentifier[fmt.Sprintf("organization/%s/%s", country, identifier)]
}

func (e *env) totalSessions() int { return len(e.sb.Sandbox().Inspect().Sessions) }

// deadLetters is how many dead letters AML_DEADLETTER holds.
func (e *env) deadLetters() uint64 {
	e.t.Helper()
	s, err := e.js.Stream(e.t.Context(), "AML_DEADLETTER")
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}
