package kybflow_test

import (
	"encoding/json"
	"testing"

	"github.com/kybflow/kybflow"
)

// TestEventUnmarshalsTyped: json.Unmarshal of an event (here inside a
// slice) gives typed data, as DecodeEvent does, and the accessors read it;
// an invalid event is an error, not a map.
func TestEventUnmarshalsTyped(t *testing.T) {
	evs := producedEvents(t, commandFiles(t, "ok-")[0])
	raw, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	var got []kybflow.Event
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("%d events, want %d", len(got), len(evs))
	}
	for i, ev := range got {
		var ok bool
		switch ev.Kind() {
		case kybflow.KindAccepted:
			_, ok = ev.Accepted()
		case kybflow.KindSessionOpened:
			_, ok = ev.SessionOpened()
		case kybflow.KindCompleted:
			var d kybflow.CompletedData
			d, ok = ev.Completed()
			ok = ok && len(d.Artifacts) > 0
		case kybflow.KindFailed:
			_, ok = ev.Failed()
		case kybflow.KindErased:
			_, ok = ev.Erased()
		case kybflow.KindChanged:
			_, ok = ev.Changed()
		case kybflow.KindMonitor:
			_, ok = ev.Monitor()
		}
		if !ok {
			t.Errorf("event %s: data %T not read by its accessor", evs[i].ID, ev.Data)
		}
		if _, wrong := ev.Erased(); wrong && ev.Kind() != kybflow.KindErased {
			t.Errorf("event %s: Erased() read the data of a %s", ev.ID, ev.Kind())
		}
	}
	var bad kybflow.Event
	if err := json.Unmarshal([]byte(`{"specversion":"0.3","id":"x"}`), &bad); err == nil {
		t.Fatal("json.Unmarshal accepted an event DecodeEvent refuses")
	}
}
