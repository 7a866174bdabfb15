package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

// TestChangingBeneficialOwners: a beneficial owners session of the
// changing-owners identifier follows its own count (not the organization
// sessions') and shows the same owners as the organization session of the
// same number.
func TestChangingBeneficialOwners(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond})
	ben, org := amlapi.KindBeneficial, amlapi.KindOrganization
	var orgOwners, benOwners [][]string
	for range 3 {
		sid := e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: sandbox.ChangingOwnersNO,
			Expands: []string{"ownership.beneficials"}})
		doc := e.fetchJSON(e.wait(org, sid, 2*time.Second, done))
		orgOwners = append(orgOwners, listOf(t, path(t, doc, "ownership", "beneficials"), "name", nil))
	}
	for range 3 {
		sid := e.create(amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: sandbox.ChangingOwnersNO})
		doc := e.fetchJSON(e.wait(ben, sid, 2*time.Second, done))
		benOwners = append(benOwners, listOf(t, doc["beneficialOwners"], "name", nil))
	}
	for i := range 3 {
		if !slices.Equal(orgOwners[i], benOwners[i]) {
			t.Errorf("session %d: beneficial owners %q, organization's %q", i+1, benOwners[i], orgOwners[i])
		}
	}
	if n := []int{len(benOwners[0]), len(benOwners[1]), len(benOwners[2])}; !slices.Equal(n, []int{1, 2, 1}) ||
		benOwners[2][0] != benOwners[1][1] || benOwners[0][0] == benOwners[2][0] {
		t.Errorf("beneficial owners %q: want A; A, B; B", benOwners)
	}
}

// TestChangingIdentifiersGuideShape: with the guides' session shape the
// content, served at the model's paths, changes the same way.
func TestChangingIdentifiersGuideShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond, SessionShape: sandbox.ShapeGuide})
	org := amlapi.KindOrganization
	var got []string
	for range 3 {
		sid := e.create(amlapi.CreateOrganizationPath(amlapi.SE), amlapi.CreateSessionRequest{Identifier: sandbox.ChangingSanctionSE,
			Expands: []string{"sanction"}})
		s := e.wait(org, sid, 2*time.Second, func(s amlapi.Session) bool { return s.JSONData.Status == amlapi.EntityReady })
		if s.JSONData.Link != "" {
			t.Fatalf("guide shape with a link: %+v", s)
		}
		resp, body := e.do(http.MethodGet, amlapi.JSONLinkPath(org, sid), e.token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET json: %d %s", resp.StatusCode, body)
		}
		var doc map[string]any
		mustJSON(t, body, &doc)
		got = append(got, fmt.Sprintf("%v %d", path(t, doc, "sanction", "status"), len(path(t, doc, "sanction", "matches").([]any))))
	}
	if want := []string{"NO_HIT 0", "HIT 1", "HIT 2"}; !slices.Equal(got, want) {
		t.Errorf("sanction %q, want %q", got, want)
	}
}

// TestChangingIdentifiersConcurrentSessions: sessions created at once are
// numbered 1 to n, once each, and each one's document is that of its
// number, on every download.
func TestChangingIdentifiersConcurrentSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond})
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- createQuietly(e, amlapi.CreateOrganizationPath(amlapi.FI), amlapi.CreateSessionRequest{Identifier: sandbox.ChangingStatusFI})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var seqs []int
	for _, s := range e.srv.Sandbox().Inspect().Sessions {
		if s.Identifier != sandbox.ChangingStatusFI {
			continue
		}
		seqs = append(seqs, s.Sequence)
		want := []string{"ACTIVE", "BANKRUPT", "DISSOLVED"}[min(s.Sequence, sandbox.ChangingSessions)-1]
		e.wait(amlapi.KindOrganization, s.ID, 2*time.Second, done)
		_, first := e.do(http.MethodGet, amlapi.JSONLinkPath(amlapi.KindOrganization, s.ID), e.token, nil)
		_, again := e.do(http.MethodGet, amlapi.JSONLinkPath(amlapi.KindOrganization, s.ID), e.token, nil)
		var doc map[string]any
		mustJSON(t, first, &doc)
		if got := path(t, doc, "keyInformation", "status"); got != want {
			t.Errorf("session %d: status %v, want %s", s.Sequence, got, want)
		}
		if !bytes.Equal(first, again) {
			t.Errorf("session %d: a second download differs", s.Sequence)
		}
	}
	slices.Sort(seqs)
	for i, q := range seqs {
		if q != i+1 {
			t.Fatalf("sequence numbers %v, want 1 to %d once each", seqs, n)
		}
	}
	if len(seqs) != n {
		t.Fatalf("%d sessions inspected, want %d", len(seqs), n)
	}
}

// TestSequenceOnlyForChangingIdentifiers: other sessions carry no number
// and change nothing; a DUNS number equal to a changing identifier is an
// ordinary lookup.
func TestSequenceOnlyForChangingIdentifiers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 50 * time.Millisecond})
	e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "988077917"})
	e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: sandbox.SanctionHitNO})
	e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: sandbox.ChangingStatusNO,
		IdentifierType: amlapi.IdentifierTypeDUNS})
	for _, s := range e.srv.Sandbox().Inspect().Sessions {
		if s.Sequence != 0 || s.Behaviour != sandbox.BehaviourNormal && s.Behaviour != sandbox.BehaviourSanctionHit {
			t.Errorf("%s: sequence %d, behaviour %q", s.Identifier, s.Sequence, s.Behaviour)
		}
	}
}

// createQuietly creates a session without the test's helpers, which may
// not stop the test from another goroutine.
func createQuietly(e *env, path string, req amlapi.CreateSessionRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r, err := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create: %s", resp.Status)
	}
	return nil
}
