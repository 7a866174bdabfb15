package kybflow

// Times on the wire: every time an event carries is RFC 3339 in UTC with at
// most millisecond precision (docs/contract.md, "Times"). NewEvent and
// EncodeEvent cut them; DecodeEvent reads any RFC 3339 time.

import "time"

// TimePrecision is the precision of every time in an event: the time
// attribute, erasedAt, until, a monitor run's at and a report signature's
// signedAt. Finer digits are cut (truncated, never rounded up into the
// future).
const TimePrecision = time.Millisecond

// msTime is t in UTC, cut to TimePrecision.
func msTime(t time.Time) time.Time { return t.UTC().Truncate(TimePrecision) }

// msTimePtr is msTime of *t in a new time, or nil.
func msTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	m := msTime(*t)
	return &m
}

// msRun is a copy of r with its time cut, or nil.
func msRun(r *MonitorRun) *MonitorRun {
	if r == nil {
		return nil
	}
	c := *r
	c.At = msTime(c.At)
	return &c
}

// msArtifacts is a copy of as with their signing times cut.
func msArtifacts(as []Artifact) []Artifact {
	if as == nil {
		return nil
	}
	out := make([]Artifact, len(as))
	for i, a := range as {
		a.Signature = a.Signature.normalize()
		out[i] = a
	}
	return out
}

// msData is a copy of the data of an event (a value or a pointer of this
// package's data types) with every time cut to TimePrecision; other data
// is returned as it is.
func msData(data any) any {
	switch d := deref(data).(type) {
	case AcceptedData:
		d.Monitor = msRun(d.Monitor)
		return d
	case SessionOpenedData:
		d.Monitor = msRun(d.Monitor)
		return d
	case CompletedData:
		d.Monitor = msRun(d.Monitor)
		d.Artifacts = msArtifacts(d.Artifacts)
		return d
	case FailedData:
		d.Monitor = msRun(d.Monitor)
		return d
	case ErasedData:
		d.ErasedAt = msTime(d.ErasedAt)
		return d
	case ChangedData:
		d.Diff.Signature = d.Diff.Signature.normalize()
		return d
	case MonitorData:
		d.Until = msTimePtr(d.Until)
		return d
	}
	return data
}
