package sandbox_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/sandbox"
)

func TestInspectEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{ReadyAfter: 20 * time.Millisecond})
	rc := newReceiver(t, webhookSecret)
	for range 2 {
		e.create(amlapi.CreateOrganizationPath(amlapi.NO), amlapi.CreateSessionRequest{Identifier: "923 609 016",
			Webhook: &amlapi.WebhookSubscription{URL: rc.URL(), Events: []amlapi.WebhookEvent{amlapi.EventAllDone}}})
	}
	id := e.create(amlapi.CreateBeneficialPath, amlapi.CreateSessionRequest{Identifier: sandbox.FailNO})
	e.wait(amlapi.KindBeneficial, id, 2*time.Second, done)
	rc.waitFor(t, 2, 2*time.Second)
	waitInspect(t, e, func(in sandbox.Inspection) bool { return len(in.Webhooks) == 2 })

	// No token needed.
	resp, body := e.do(http.MethodGet, sandbox.InspectPath, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inspect: %d %s", resp.StatusCode, body)
	}
	var in sandbox.Inspection
	mustJSON(t, body, &in)
	if in.SessionsPerIdentifier["organization/NO/923609016"] != 2 || in.SessionsPerIdentifier["beneficial/NO/"+sandbox.FailNO] != 1 {
		t.Errorf("per identifier: %v", in.SessionsPerIdentifier)
	}
	if len(in.Sessions) != 3 || in.Sessions[0].WebhookURL != rc.URL() || !in.Sessions[2].Failing ||
		in.Sessions[2].Behaviour != sandbox.BehaviourFail || in.Sessions[2].Kind != amlapi.KindBeneficial {
		t.Errorf("sessions: %+v", in.Sessions)
	}
	if in.Requests["POST /organization/session/no"] != 2 || in.Requests["POST /beneficial/session/{$}"] != 1 ||
		in.Requests["GET /beneficial/session/{id}"] == 0 {
		t.Errorf("requests: %v", in.Requests)
	}
	if len(in.Webhooks) < 2 || in.Webhooks[0].Event != amlapi.EventAllDone || !in.Webhooks[0].OK() {
		t.Errorf("webhooks: %+v", in.Webhooks)
	}

	if resp, _ := e.do(http.MethodPost, sandbox.ResetPath, "", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	in = e.srv.Sandbox().Inspect()
	if len(in.Sessions) != 0 || len(in.SessionsPerIdentifier) != 0 || len(in.Webhooks) != 0 || len(in.Requests) != 0 {
		t.Errorf("after reset: %+v", in)
	}
	// Sessions survive a reset.
	if s := e.session(amlapi.KindBeneficial, id); s.Status != amlapi.SessionFailed {
		t.Errorf("session after reset: %+v", s)
	}
}
