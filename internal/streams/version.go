package streams

// The NATS server version the topology needs: monitors' schedules are
// JetStream message schedules (Nats-Schedule), which nats-server 2.14 and
// later run as we use them (docs/monitors.md).

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// MinServerVersion is the oldest nats-server the worker runs on.
const MinServerVersion = "2.14.0"

// ErrServerTooOld is wrapped by Ensure's and Verify's error on a server
// older than MinServerVersion, or one that does not keep message
// schedules on the schedules stream: retrying cannot mend it.
var ErrServerTooOld = errors.New("monitors need nats-server " + MinServerVersion + " or later (JetStream message schedules): upgrade the NATS servers")

// checkServerVersion refuses a server older than MinServerVersion.
func checkServerVersion(js jetstream.JetStream) error {
	have := js.Conn().ConnectedServerVersion()
	if have == "" {
		return nil // not connected yet: the next attempt asks again
	}
	if !versionAtLeast(have, MinServerVersion) {
		return fmt.Errorf("connected to nats-server %s: %w", have, ErrServerTooOld)
	}
	return nil
}

// checkSchedules refuses a schedules stream the server made without
// message schedules (a server that ignored the setting).
func checkSchedules(st jetstream.Stream) error {
	if st != nil && !st.CachedInfo().Config.AllowMsgSchedules {
		return fmt.Errorf("stream %s has no message schedules: %w", st.CachedInfo().Config.Name, ErrServerTooOld)
	}
	return nil
}

// versionAtLeast compares dotted versions numerically ("2.15.2" ≥ "2.14.0");
// a pre-release or build suffix is ignored.
func versionAtLeast(have, want string) bool {
	h, w := versionParts(have), versionParts(want)
	for i := range w {
		if h[i] != w[i] {
			return h[i] > w[i]
		}
	}
	return true
}

func versionParts(v string) [3]int {
	var out [3]int
	v, _, _ = strings.Cut(strings.TrimPrefix(v, "v"), "-")
	v, _, _ = strings.Cut(v, "+")
	for i, p := range strings.SplitN(v, ".", 3) {
		out[i], _ = strconv.Atoi(p)
	}
	return out
}
