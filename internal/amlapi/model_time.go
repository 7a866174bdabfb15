package amlapi

// Timestamps of the API (model; see model.go): a tolerant Time.

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Time is a timestamp of the API. Its wire format is not confirmed, so it
// reads RFC 3339 (also without a zone, taken as UTC, and with a space for
// the T) and Unix seconds or milliseconds, and it never fails: a value it
// cannot read is kept in Raw with a zero Time. An unexpected format thus
// degrades to "time unknown", never to an undecodable session or webhook.
// It is written as RFC 3339.
type Time struct {
	time.Time
	Raw string // the value as received, when it could not be read
}

// NewTime wraps t.
func NewTime(t time.Time) Time { return Time{Time: t} }

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// UnmarshalJSON reads a string or a number. It never returns an error:
// anything else (an object, an array, an unknown format) is kept in Raw.
func (t *Time) UnmarshalJSON(b []byte) error {
	*t = Time{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			t.Raw = strings.ToValidUTF8(string(b), "\uFFFD") // kept as text: valid UTF-8, so that it encodes the same twice
			return nil                                       //nolint:nilerr // an unreadable value is kept in Raw, not an error
		}
		for _, layout := range timeLayouts {
			if v, err := time.Parse(layout, s); err == nil {
				t.Time = v
				return nil
			}
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			t.Time = unixTime(n)
			return nil
		}
		t.Raw = s
		return nil
	}
	if n, err := strconv.ParseFloat(string(b), 64); err == nil {
		t.Time = unixTime(int64(n))
		return nil
	}
	t.Raw = strings.ToValidUTF8(string(b), "\uFFFD") // kept as text: valid UTF-8, so that it encodes the same twice
	return nil
}

// unixTime reads n as Unix seconds, or milliseconds when it is too large
// to be seconds of this era.
func unixTime(n int64) time.Time {
	if n > 1e11 || n < -1e11 {
		return time.UnixMilli(n).UTC()
	}
	return time.Unix(n, 0).UTC()
}

// MarshalJSON writes RFC 3339, the raw value when the time was unreadable,
// or null when there is neither.
func (t Time) MarshalJSON() ([]byte, error) {
	switch {
	case !t.IsZero():
		return json.Marshal(t.Format(time.RFC3339Nano))
	case t.Raw != "":
		return json.Marshal(t.Raw)
	}
	return []byte("null"), nil
}
