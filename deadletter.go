package kybflow

import (
	"strconv"
	"strings"
)

// Headers of a dead letter: a command whose lookupId cannot be read
// (LookupIDOf), published unchanged to Subjects.DeadLetterCommands so that
// nothing is lost and an operator can see why.
const (
	// HeaderDeadLetterReason says why, one line (DeadLetterReason).
	HeaderDeadLetterReason = "Kybflow-Dead-Letter-Reason"
	// HeaderDeadLetterSubject is the subject the command was published to.
	HeaderDeadLetterSubject = "Kybflow-Dead-Letter-Subject"
	// HeaderDeadLetterStream and HeaderDeadLetterSequence locate the
	// original message (stream name, stream sequence in decimal).
	HeaderDeadLetterStream   = "Kybflow-Dead-Letter-Stream"
	HeaderDeadLetterSequence = "Kybflow-Dead-Letter-Sequence"
	// HeaderDeadLetterTruncated is "true" when the dead letter holds only
	// the first DeadLetterKeep bytes of the command, which was too large
	// to be kept whole with these headers; HeaderDeadLetterSize and
	// HeaderDeadLetterSHA256 then describe the whole command.
	HeaderDeadLetterTruncated = "Kybflow-Dead-Letter-Truncated"
	HeaderDeadLetterSize      = "Kybflow-Dead-Letter-Size"
	HeaderDeadLetterSHA256    = "Kybflow-Dead-Letter-Sha256"
)

// DeadLetterKeep is how much of a command too large to dead-letter whole
// is kept.
const DeadLetterKeep = 64 << 10

// MaxDeadLetterReasonLength is the longest HeaderDeadLetterReason, in
// bytes.
const MaxDeadLetterReasonLength = 1024

// DeadLetterReason makes err a header value: control characters (line
// breaks included) become spaces, and it is cut to
// MaxDeadLetterReasonLength bytes on a character boundary.
func DeadLetterReason(err error) string {
	if err == nil {
		return ""
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(err.Error(), "\uFFFD"))
	if len(s) > MaxDeadLetterReasonLength {
		cut := MaxDeadLetterReasonLength
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// DeadLetterMsgID is the Nats-Msg-Id of the dead letter of the message at
// seq in stream, "<stream>.<seq>", so that a redelivered message is
// dead-lettered once.
func DeadLetterMsgID(stream string, seq uint64) string {
	return stream + "." + strconv.FormatUint(seq, 10)
}
