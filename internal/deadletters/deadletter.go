package deadletters

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

// DeadLetter is one dead-lettered command: its sequence in the dead-letter
// stream, when it was dead-lettered, the headers the worker gave it and the
// command as it was published (its first kybflow.DeadLetterKeep bytes when
// Truncated).
type DeadLetter struct {
	Seq    uint64
	Time   time.Time
	Header nats.Header
	Data   []byte
}

func fromMsg(m *jetstream.RawStreamMsg) DeadLetter {
	h := m.Header
	if h == nil {
		h = nats.Header{}
	}
	return DeadLetter{Seq: m.Sequence, Time: m.Time, Header: h, Data: m.Data}
}

// Reason says why the command was dead-lettered, one line.
func (d DeadLetter) Reason() string { return d.Header.Get(kybflow.HeaderDeadLetterReason) }

// Subject is where the command was published ("" when the header is
// missing).
func (d DeadLetter) Subject() string { return d.Header.Get(kybflow.HeaderDeadLetterSubject) }

// Origin is the stream and sequence the command was read from (0 when the
// header is missing or not a number).
func (d DeadLetter) Origin() (stream string, seq uint64) {
	seq, _ = strconv.ParseUint(d.Header.Get(kybflow.HeaderDeadLetterSequence), 10, 64)
	return d.Header.Get(kybflow.HeaderDeadLetterStream), seq
}

// Truncated reports whether Data is only the command's start.
func (d DeadLetter) Truncated() bool {
	return d.Header.Get(kybflow.HeaderDeadLetterTruncated) == "true"
}

// Size is the whole command's size: len(Data), or for a truncated dead
// letter the size its header gives.
func (d DeadLetter) Size() int64 {
	if d.Truncated() {
		if n, err := strconv.ParseInt(d.Header.Get(kybflow.HeaderDeadLetterSize), 10, 64); err == nil {
			return n
		}
	}
	return int64(len(d.Data))
}

// SHA256 is the hex SHA-256 of the whole command of a truncated dead
// letter, "" for one kept whole.
func (d DeadLetter) SHA256() string {
	if !d.Truncated() {
		return ""
	}
	return d.Header.Get(kybflow.HeaderDeadLetterSHA256)
}

// Truncation says what a truncated body is, for people.
func (d DeadLetter) Truncation() string {
	return fmt.Sprintf("truncated: the body is the first %d of the command's %d bytes (sha256 %s)",
		len(d.Data), d.Size(), d.Header.Get(kybflow.HeaderDeadLetterSHA256))
}
