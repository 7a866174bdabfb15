package kybflow

// Metadata on the wire: a command's metadata is echoed byte for byte in
// every event of its lookup (docs/contract.md, "Metadata"). encoding/json
// cannot write a json.RawMessage as it is: it compacts the output of every
// Marshaler (and json.Marshal also escapes <, > and &), so the encoders of
// this package write the rest with encoding/json and splice the metadata's
// own bytes in where encoding/json put its compact copy.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// errNotObject is metadataObject's error.
var errNotObject = errors.New("not a JSON object")

// metadataObject returns raw without the whitespace around it, when it is
// a JSON object; its bytes are otherwise unchanged.
func metadataObject(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.Trim(raw, " \t\r\n")
	if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
		return nil, errNotObject
	}
	return raw, nil
}

// MarshalKeepingMetadata encodes v as JSON, without escaping <, > and &,
// with metadata (a command's, which must be valid JSON) written byte for
// byte at the member path (e.g. "command", "metadata") instead of the
// compact copy encoding/json writes there. A store that keeps a command
// inside a record (and makes events of it later) encodes the record with
// it, so that the events echo the metadata byte for byte; json.Unmarshal
// into a json.RawMessage keeps the bytes on the way back.
func MarshalKeepingMetadata(v any, metadata json.RawMessage, path ...string) ([]byte, error) {
	return marshalKeeping(v, metadata, path...)
}

// marshalKeeping encodes v as marshal does, then puts raw, which must be
// valid JSON, at the member path (e.g. "data", "metadata") instead of the
// compact copy encoding/json wrote there. Nothing is spliced when raw is
// empty or the member is absent (omitempty).
func marshalKeeping(v any, raw json.RawMessage, path ...string) ([]byte, error) {
	b, err := marshal(v)
	if err != nil || len(raw) == 0 {
		return b, err
	}
	start, end, ok := memberSpan(b, path...)
	if !ok {
		return b, nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, fmt.Errorf("%v: %w", path, err)
	}
	if !bytes.Equal(b[start:end], compact.Bytes()) {
		// Never expected: encoding/json wrote something else there.
		return nil, fmt.Errorf("%v: the encoded value is not the metadata's compact form", path)
	}
	out := make([]byte, 0, len(b)-(end-start)+len(raw))
	out = append(out, b[:start]...)
	out = append(out, raw...)
	return append(out, b[end:]...), nil
}

// memberSpan is where the value of the member at path is in the JSON
// object b: b[start:end].
func memberSpan(b []byte, path ...string) (start, end int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	for _, name := range path {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return 0, 0, false
		}
		found := false
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return 0, 0, false
			}
			if tok == name {
				found = true
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, 0, false
			}
		}
		if !found {
			return 0, 0, false
		}
	}
	// The decoder stands after the member's name: skip the ':' and any
	// space to the value.
	start = int(dec.InputOffset())
	for start < len(b) && (b[start] == ':' || b[start] == ' ' || b[start] == '\t' || b[start] == '\r' || b[start] == '\n') {
		start++
	}
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return 0, 0, false
	}
	return start, int(dec.InputOffset()), true
}
