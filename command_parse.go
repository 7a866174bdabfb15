package kybflow

// Reading commands: ParseCommand validates and normalises one, LookupIDOf
// reads the lookupId of one it rejects.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// ParseCommand decodes, validates and normalises a lookup command. Its
// error is a *CommandError with code invalid_command (not UTF-8 JSON, not an
// object, larger than MaxCommandSize, a required field missing, a field of
// the wrong JSON type, an unknown enum value, a limit exceeded) or
// invalid_identifier (the identifier fails the rules of its kind).
//
// Field names are matched exactly. Unknown fields are ignored, for forward
// compatibility; null is the same as absent.
func ParseCommand(data []byte) (LookupCommand, error) {
	if len(data) > MaxCommandSize {
		return LookupCommand{}, wholeCommandError(data, fmt.Sprintf("command is %d bytes; the limit is %d", len(data), MaxCommandSize))
	}
	if !utf8.Valid(data) {
		return LookupCommand{}, wholeCommandError(data, "command is not valid UTF-8")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		if json.Valid(data) {
			return LookupCommand{}, wholeCommandError(data, "command is not a JSON object")
		}
		return LookupCommand{}, wholeCommandError(data, "command is not valid JSON: "+err.Error())
	}
	r := fieldReader(fields)
	var c LookupCommand
	var ok bool

	// The fields a failed event echoes come first, so that an error in
	// any later field can carry them.
	if c.LookupID, ok = r.string("lookupId"); !ok {
		return LookupCommand{}, r.typeError("lookupId", "a string")
	}
	if e := checkLookupID(c.LookupID, r.present("lookupId")); e != nil {
		return LookupCommand{}, e
	}
	fail := func(e *CommandError) (LookupCommand, error) {
		e.LookupID, e.CorrelationID, e.Metadata = c.LookupID, c.CorrelationID, c.Metadata
		return LookupCommand{}, e
	}
	if c.CorrelationID, ok = r.string("correlationId"); !ok {
		return fail(r.typeError("correlationId", "a string"))
	}
	if e := checkCorrelationID(c.CorrelationID); e != nil {
		c.CorrelationID = ""
		return fail(e)
	}
	if raw, present := r.get("metadata"); present {
		m, e := checkMetadata(raw)
		if e != nil {
			return fail(e)
		}
		c.Metadata = m
	}

	var s string
	if s, ok = r.string("type"); !ok {
		return fail(r.typeError("type", "a string"))
	}
	c.Type = LookupType(s)
	if e := checkType(c.Type, r.present("type")); e != nil {
		return fail(e)
	}

	if s, ok = r.string("country"); !ok {
		return fail(r.typeError("country", "a string"))
	}
	c.Country = Country(s)
	if !r.present("country") {
		c.Country = CountryNO
	} else if e := checkCountry(c.Country, c.Type); e != nil {
		return fail(e)
	}

	if s, ok = r.string("identifierType"); !ok {
		return fail(r.typeError("identifierType", "a string"))
	}
	c.IdentifierType = IdentifierType(s)
	if !r.present("identifierType") {
		c.IdentifierType = IdentifierOrganizationNumber
	} else if e := checkIdentifierType(c.IdentifierType); e != nil {
		return fail(e)
	}

	if s, ok = r.string("identifier"); !ok {
		return fail(r.typeError("identifier", "a string"))
	}
	norm, e := checkIdentifier(s, r.present("identifier"), c.IdentifierType, c.Country) // both valid here
	if e != nil {
		return fail(e)
	}
	c.Identifier = norm

	expands, ok := r.strings("expands")
	if !ok {
		return fail(r.typeError("expands", "an array of strings"))
	}
	if e := checkExpands(expands, c.Type); e != nil {
		return fail(e)
	}
	c.Expands = dedupe(expands)

	reports, ok := r.strings("reports")
	if !ok {
		return fail(r.typeError("reports", "an array of strings"))
	}
	typed := make([]ReportType, len(reports))
	for i, x := range reports {
		typed[i] = ReportType(x)
	}
	if e := checkReports(typed, c.Type); e != nil {
		return fail(e)
	}
	for _, x := range dedupe(reports) {
		c.Reports = append(c.Reports, ReportType(x))
	}

	if c.Language, ok = r.string("language"); !ok {
		return fail(r.typeError("language", "a string"))
	}
	if r.present("language") {
		if e := checkLanguage(c.Language); e != nil {
			return fail(e)
		}
	}
	return c, nil
}

// LookupIDOf reads the lookupId of a command that ParseCommand may reject:
// a JSON object whose top-level "lookupId" is a valid lookupId, even when
// other fields are broken, the JSON is truncated or malformed after it, or
// the command is too large. It reports false when no valid lookupId can be
// read; such a command becomes a dead letter. Like ParseCommand, the last
// "lookupId" wins.
func LookupIDOf(data []byte) (string, bool) {
	return topLevelID(data, "lookupId", ValidLookupID)
}

// MonitorIDOf reads the monitorId of a monitor command as LookupIDOf reads
// a lookup command's lookupId: from a JSON object's top-level "monitorId"
// that ValidMonitorID accepts, however broken the rest.
func MonitorIDOf(data []byte) (string, bool) {
	return topLevelID(data, "monitorId", ValidMonitorID)
}

// topLevelID reads the last top-level field name of a JSON object, read
// token by token up to where the JSON breaks, when it is a string valid
// accepts.
func topLevelID(data []byte, name string, valid func(string) bool) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	id, found := "", false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, ok := tok.(string)
		if !ok { // '}': the end of the object
			break
		}
		if key != name {
			if skipValue(dec) != nil {
				break
			}
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			id, found = "", false
			break
		}
		s, isString := tok.(string)
		id, found = s, isString && valid(s)
		if d, isDelim := tok.(json.Delim); isDelim && (d == '{' || d == '[') {
			if skipNested(dec) != nil {
				break
			}
		}
	}
	if !found {
		return "", false
	}
	return id, true
}

// skipValue reads one complete value.
func skipValue(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		return skipNested(dec)
	}
	return nil
}

// skipNested reads to the end of the object or array just opened.
func skipNested(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// wholeCommandError is an invalid_command error about the command as a
// whole, carrying its lookupId when LookupIDOf can read it.
func wholeCommandError(data []byte, reason string) *CommandError {
	id, _ := LookupIDOf(data)
	return &CommandError{Code: CodeInvalidCommand, Reason: reason, LookupID: id}
}

func fieldError(field, reason string) *CommandError {
	return &CommandError{Code: CodeInvalidCommand, Field: field, Reason: reason}
}

// fieldReader reads the fields of a JSON object by exact name.
type fieldReader map[string]json.RawMessage

// get returns the raw value of a field, and false when it is absent or null.
func (r fieldReader) get(name string) (json.RawMessage, bool) {
	raw, ok := r[name]
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

func (r fieldReader) present(name string) bool {
	_, ok := r.get(name)
	return ok
}

// string returns a string field ("" when absent or null), and false when
// the field is present but not a string.
func (r fieldReader) string(name string) (string, bool) {
	raw, ok := r.get(name)
	if !ok {
		return "", true
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// strings returns an array-of-strings field (nil when absent or null), and
// false when the field is present but not an array of strings.
func (r fieldReader) strings(name string) ([]string, bool) {
	raw, ok := r.get(name)
	if !ok {
		return nil, true
	}
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, false
	}
	ss := make([]string, 0, len(elems))
	for _, e := range elems {
		var s string
		if e[0] != '"' || json.Unmarshal(e, &s) != nil {
			return nil, false
		}
		ss = append(ss, s)
	}
	return ss, true
}

func (r fieldReader) typeError(name, want string) *CommandError {
	return fieldError(name, fmt.Sprintf("%s must be %s", name, want))
}

// compactObject returns raw, which must be a JSON object, as compact JSON
// (a monitor command's lookup; metadata is kept as sent, metadataObject).
func compactObject(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dedupe drops repeated values, keeping the first; it returns nil for an
// empty list.
func dedupe(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func joinReports(rs []ReportType) string {
	ss := make([]string, len(rs))
	for i, r := range rs {
		ss[i] = string(r)
	}
	return strings.Join(ss, " or ")
}

// quote quotes a value for an error message, cut to 40 characters.
// quote is a rejected value of a field other than the identifier, for a
// reason that the failed event (and a dead letter's header) carries: the
// value itself when it looks like the token it should have been (letters,
// '_', '.', '-', at most 40), so that a typo is plain to see; otherwise only
// its length. A careless client may put anything in any field, a personal
// identification number or a name included, and a reason is read by more
// people than the command.
func quote(s string) string {
	if tokenLike(s) {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("(a value of %d characters, not repeated here)", utf8.RuneCountInString(s))
}

func tokenLike(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// marshal encodes v as compact JSON without escaping <, > and &, so that
// metadata is echoed byte for byte.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
