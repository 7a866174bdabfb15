package streams

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// TestEnsureChangesOnlyWhatDiffers: against a topology as it should be,
// Ensure needs only to read it: a user allowed stream and consumer info
// (no create, no update) ensures it, and gets every handle. Once a setting
// differs, that user cannot, and the operator's change is needed.
func TestEnsureChangesOnlyWhatDiffers(t *testing.T) {
	reader := &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			"$JS.API.STREAM.INFO.>", "$JS.API.CONSUMER.INFO.>", "$JS.API.DIRECT.GET.>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
	srv := testenv.NATSWithUsers(t, &server.User{Username: "operator", Password: "op"}, &server.User{Username: "reader", Password: "rd", Permissions: reader})
	as := func(user, password string) jetstream.JetStream {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, password))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	topo := boundedTopology(t)
	if _, err := Ensure(t.Context(), as("operator", "op"), topo); err != nil {
		t.Fatal(err)
	}
	res, err := Ensure(t.Context(), as("reader", "rd"), topo)
	if err != nil {
		t.Fatalf("Ensure of an unchanged topology by a user who may only read it: %v", err)
	}
	if res.Events == nil || res.Lookups == nil || res.Commands == nil || res.Checks == nil || res.Webhooks == nil {
		t.Fatalf("Ensure's resources: %+v", res)
	}

	changed := topo
	changed.EventsMaxAge = 2 * time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := Ensure(ctx, as("reader", "rd"), changed); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ensure of a changed setting by a user who may not update: %v, want it to wait for the right", err)
	}
	if _, err := Ensure(t.Context(), as("operator", "op"), changed); err != nil {
		t.Fatal(err)
	}
	if got := streamConfig(t, as("operator", "op"), "AML_EVENTS").Config.MaxAge; got != 2*time.Hour {
		t.Fatalf("events MaxAge %s after the operator's Ensure, want 2h", got)
	}
}
