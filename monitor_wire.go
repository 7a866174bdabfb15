package kybflow

// Monitors on the wire: the monitorId rule, a monitor command's encoding
// and its lookup, and the ids of monitor events.

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// ValidMonitorID reports whether s is a valid monitorId: 1 to
// MaxMonitorIDLength of A-Z a-z 0-9 _ -, a single subject token (the
// monitor's key is <tenant>.<monitorId> like a lookup's).
func ValidMonitorID(s string) bool { return len(s) <= MaxMonitorIDLength && ValidLookupID(s) }

// MonitorLookup is the lookup of a monitor command (MonitorCommand.Lookup)
// that looks up what c does: c's fields but its lookupId (each run's is
// RunLookupID), tenant (the subject's), correlationId and metadata (the
// monitor's, set on the monitor command) and monitor link (the worker's).
func MonitorLookup(c LookupCommand) (json.RawMessage, error) {
	b, err := marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode the monitor's lookup: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("encode the monitor's lookup: %w", err)
	}
	for _, own := range []string{"lookupId", "tenant", "correlationId", "metadata", "monitor"} {
		delete(fields, own)
	}
	return marshal(fields)
}

// EncodeMonitorCommand encodes c as JSON, after checking that
// ParseMonitorCommand accepts the result, so that a publisher never sends
// a monitor command the worker rejects as malformed (whether it applies to
// the monitor as it is, the worker alone knows). The error is then
// ParseMonitorCommand's.
func EncodeMonitorCommand(c MonitorCommand) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b, err := marshalKeeping(c, c.Metadata, "metadata")
	if err != nil {
		return nil, fmt.Errorf("encode monitor command: %w", err)
	}
	if _, err := ParseMonitorCommand(b); err != nil {
		return nil, err
	}
	return b, nil
}

// MonitorEventID is the id of the monitor event n of the monitor named
// key: "<key>.monitor.<n>". n numbers the message that caused the event,
// so that every delivery of that message makes the same id, and JetStream
// drops a copy published again after a crash (the id is the event's
// Nats-Msg-Id): MonitorCommandN of a command's sequence in the commands
// stream for the answer to a command (applied or rejected), which the
// platform that published it knows from its publish acknowledgement, so
// that it can wait for the answer to its own command; MonitorFireN of a
// fire's sequence in the schedules stream for an event a run causes (the
// end). The two streams count apart; the numbers never meet. Consumers
// otherwise treat ids as opaque.
func MonitorEventID(key string, n uint64) string {
	return key + "." + string(KindMonitor) + "." + strconv.FormatUint(n, 10)
}

// MonitorCommandN is the number (MonitorEventID) of the monitor event that
// answers the command at seq in the commands stream: 2·seq.
func MonitorCommandN(seq uint64) uint64 { return seq << 1 }

// MonitorFireN is the number (MonitorEventID) of a monitor event caused by
// the fire at seq in the schedules stream: 2·seq+1.
func MonitorFireN(seq uint64) uint64 { return seq<<1 | 1 }
