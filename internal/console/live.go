package console

// GET /events/stream: the index's updates as server-sent events, for the
// pages' script (static/live.js) to move a lookup's state without a
// reload.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// heartbeat is how often an idle stream sends a comment, so that proxies
// keep it open and a dead client is noticed.
const heartbeat = 20 * time.Second

// liveUpdate is an update as the script reads it.
type liveUpdate struct {
	Key   string `json:"key"`
	State string `json:"state"`
	Kind  string `json:"kind"`
	At    string `json:"at"`
	New   bool   `json:"new"`
}

// live streams updates until the client leaves, the server shuts down, or
// the subscription lags (then it says so, in a "lagged" event, and ends:
// the page is stale and is best reloaded).
func (s *server) live(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	sub := s.Index.Subscribe()
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	send := func(format string, args ...any) bool {
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 5000\n: live\n\n") {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopping:
			return
		case <-tick.C:
			if !send(": ping\n\n") {
				return
			}
		case u, ok := <-sub.C():
			if !ok {
				if sub.Lagged() {
					send("event: lagged\ndata: {}\n\n")
				}
				return
			}
			b, err := json.Marshal(liveUpdate{Key: u.Key, State: u.State.String(), Kind: string(u.Kind), At: u.At.UTC().Format("2006-01-02 15:04:05.000Z"), New: u.New})
			if err != nil || !send("event: lookup\ndata: %s\n\n", b) {
				return
			}
		}
	}
}
