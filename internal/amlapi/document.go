package amlapi

// This file holds the tolerant decoding of the typed result documents (the
// JSON behind a session's jsonData link): Block, which keeps each block's
// presence, and the Decode functions. The documents themselves are in
// document_organization.go, document_owners.go and document_shared.go.
//
// The block names are confirmed (see ../shared/aml-api.md); the fields inside
// the blocks are our model, like everything in model.go. The decoders follow
// the API's compatibility promise: an unknown field or an unknown enum value
// never fails a decode, and a block that was requested but found nothing (an
// empty JSON node, {} or []) is kept apart from one that was not requested
// (absent or null). See Block.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"time"
)

// Presence says whether a block of a document was requested and found.
type Presence uint8

// The presence states of a Block.
const (
	// NotRequested: the key is absent or null. The block was not expanded,
	// or (beneficial owners) our access does not cover it.
	NotRequested Presence = iota
	// Empty: the block is {} or []. It was requested and searched, and
	// nothing was found.
	Empty
	// Present: the block holds data.
	Present
)

// String returns "not requested", "empty" or "present".
func (p Presence) String() string {
	switch p {
	case NotRequested:
		return "not requested"
	case Empty:
		return "empty"
	case Present:
		return "present"
	}
	return "presence(" + strconv.Itoa(int(p)) + ")"
}

// Block is one block of a document, with its presence: Value is meaningful
// only when State is Present. The zero Block is NotRequested, and a
// NotRequested block is left out when encoded with the omitzero tag option.
type Block[T any] struct {
	State Presence
	Value T
}

// Found returns the value and true when the block is Present.
func (b Block[T]) Found() (T, bool) { return b.Value, b.State == Present }

// IsZero reports whether the block is NotRequested; encoding/json's
// omitzero uses it.
func (b Block[T]) IsZero() bool { return b.State == NotRequested }

// UnmarshalJSON decodes null as NotRequested, {} and [] as Empty, and any
// other value into Value as Present.
func (b *Block[T]) UnmarshalJSON(data []byte) error {
	switch emptyNode(data) {
	case "null":
		*b = Block[T]{}
		return nil
	case "{}", "[]":
		*b = Block[T]{State: Empty}
		return nil
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*b = Block[T]{State: Present, Value: v}
	return nil
}

// MarshalJSON encodes NotRequested as null, Empty as [] when T is a slice
// and {} otherwise, and Present as Value.
func (b Block[T]) MarshalJSON() ([]byte, error) {
	switch b.State {
	case NotRequested:
		return []byte("null"), nil
	case Empty:
		if reflect.TypeFor[T]().Kind() == reflect.Slice {
			return []byte("[]"), nil
		}
		return []byte("{}"), nil
	}
	return json.Marshal(b.Value)
}

// emptyNode returns "null", "{}" or "[]" when data (one valid JSON value) is
// that, ignoring whitespace, and "" otherwise.
func emptyNode(data []byte) string {
	var b [4]byte
	n := 0
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		if n == len(b) {
			return ""
		}
		b[n] = c
		n++
	}
	switch s := string(b[:n]); s {
	case "null", "{}", "[]":
		return s
	}
	return ""
}

// ---- Decoders ----

// DecodeOrganization decodes an organization document. Unknown fields and
// enum values are ignored; data after the document is an error.
func DecodeOrganization(r io.Reader) (*OrganizationDocument, error) {
	var d OrganizationDocument
	if err := decodeJSON(r, &d); err != nil {
		return nil, fmt.Errorf("decode organization document: %w", err)
	}
	return &d, nil
}

// DecodeBeneficialOwners decodes a beneficial owners document. Unknown
// fields and enum values are ignored; data after the document is an error.
func DecodeBeneficialOwners(r io.Reader) (*BeneficialOwnersDocument, error) {
	var d BeneficialOwnersDocument
	if err := decodeJSON(r, &d); err != nil {
		return nil, fmt.Errorf("decode beneficial owners document: %w", err)
	}
	return &d, nil
}

// DecodeSession decodes a session-information answer (model.go's Session).
// Unknown fields, session statuses, entity statuses and report types are
// kept or ignored, never an error.
func DecodeSession(r io.Reader) (*Session, error) {
	var s Session
	if err := decodeJSON(r, &s); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	return &s, nil
}

// ResultLinks reads the links block of a result document: the report links
// it gives (links.reports; nil when it gives none) and until when the
// results can be read (links.expires; zero when not given). It never
// fails: from a document it cannot read it reads neither. A session answer
// in the guides' shape lists no links, and may list no reports at all:
// then these are the only links there are.
func ResultLinks(doc []byte) (ReportLinks, time.Time) {
	var d struct {
		Links Block[Links] `json:"links"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return nil, time.Time{}
	}
	l := d.Links.Value
	var until time.Time
	if l.Expires != nil {
		until = l.Expires.Time
	}
	var links ReportLinks
	for t, link := range l.Reports.Value {
		if link == "" {
			continue
		}
		if links == nil {
			links = ReportLinks{}
		}
		links[t] = link
	}
	return links, until
}

// errTrailingData: a document is followed by more than whitespace.
var errTrailingData = errors.New("data after the JSON document")

// decodeJSON decodes exactly one JSON value from r into v.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF // an empty document is not a document
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailingData
	}
	return nil
}
