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

	"github.com/kybflow/kybflow/identifier"
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
	if c.LookupID == "" && !r.present("lookupId") {
		return LookupCommand{}, fieldError("lookupId", "lookupId is required")
	}
	if !ValidLookupID(c.LookupID) {
		return LookupCommand{}, fieldError("lookupId", fmt.Sprintf("lookupId %s must match [A-Za-z0-9_-]{1,128}", quote(c.LookupID)))
	}
	fail := func(e *CommandError) (LookupCommand, error) {
		e.LookupID, e.CorrelationID, e.Metadata = c.LookupID, c.CorrelationID, c.Metadata
		return LookupCommand{}, e
	}
	if c.CorrelationID, ok = r.string("correlationId"); !ok {
		return fail(r.typeError("correlationId", "a string"))
	}
	if n := utf8.RuneCountInString(c.CorrelationID); n > MaxCorrelationIDLength {
		c.CorrelationID = ""
		return fail(fieldError("correlationId", fmt.Sprintf("correlationId is %d characters; the limit is %d", n, MaxCorrelationIDLength)))
	}
	if raw, present := r.get("metadata"); present {
		m, err := compactObject(raw)
		if err != nil {
			return fail(fieldError("metadata", "metadata must be a JSON object"))
		}
		if len(m) > MaxMetadataSize {
			return fail(fieldError("metadata", fmt.Sprintf("metadata is %d bytes of compact JSON; the limit is %d", len(m), MaxMetadataSize)))
		}
		c.Metadata = m
	}

	var s string
	if s, ok = r.string("type"); !ok {
		return fail(r.typeError("type", "a string"))
	}
	c.Type = LookupType(s)
	switch {
	case !r.present("type"):
		return fail(fieldError("type", "type is required; want organization or beneficial_owners"))
	case !c.Type.valid():
		return fail(fieldError("type", fmt.Sprintf("type %s is unknown; want organization or beneficial_owners", quote(s))))
	}

	if s, ok = r.string("country"); !ok {
		return fail(r.typeError("country", "a string"))
	}
	c.Country = Country(s)
	switch {
	case !r.present("country"):
		c.Country = CountryNO
	case !c.Country.valid():
		return fail(fieldError("country", fmt.Sprintf("country %s is unknown; want NO, SE or FI", quote(s))))
	case c.Type == TypeBeneficialOwners && c.Country != CountryNO:
		return fail(fieldError("country", fmt.Sprintf("country %s is not available for beneficial_owners lookups, which are Norwegian; want NO or no country", quote(s))))
	}

	if s, ok = r.string("identifierType"); !ok {
		return fail(r.typeError("identifierType", "a string"))
	}
	c.IdentifierType = IdentifierType(s)
	switch {
	case !r.present("identifierType"):
		c.IdentifierType = IdentifierOrganizationNumber
	case !c.IdentifierType.valid():
		return fail(fieldError("identifierType", fmt.Sprintf("identifierType %s is unknown; want organization_number or duns", quote(s))))
	}

	if s, ok = r.string("identifier"); !ok {
		return fail(r.typeError("identifier", "a string"))
	}
	if !r.present("identifier") || strings.TrimSpace(s) == "" {
		// Missing, null or empty is a malformed command, not an identifier
		// that failed its rules.
		return fail(fieldError("identifier", "identifier is required"))
	}
	kind, _ := c.IdentifierType.Kind(c.Country) // both valid here
	if n := utf8.RuneCountInString(s); n > MaxIdentifierLength {
		e := fieldError("identifier", fmt.Sprintf("invalid %s: %d characters; the limit is %d", kind.Description(), n, MaxIdentifierLength))
		e.Code, e.err = CodeInvalidIdentifier, fmt.Errorf("%w: %d characters", identifier.ErrInvalid, n)
		return fail(e)
	}
	norm, err := identifier.Normalize(kind, s)
	if err != nil {
		e := fieldError("identifier", err.Error())
		e.Code, e.err = CodeInvalidIdentifier, err
		return fail(e)
	}
	c.Identifier = norm

	expands, ok := r.strings("expands")
	if !ok {
		return fail(r.typeError("expands", "an array of strings"))
	}
	allowed := Expands(c.Type)
	for _, x := range expands {
		if !slices.Contains(allowed, x) {
			return fail(fieldError("expands", fmt.Sprintf("expand %s is not available for %s lookups; want one of %s", quote(x), c.Type, strings.Join(allowed, ", "))))
		}
	}
	c.Expands = dedupe(expands)

	reports, ok := r.strings("reports")
	if !ok {
		return fail(r.typeError("reports", "an array of strings"))
	}
	for _, x := range reports {
		if !slices.Contains(ReportTypes(c.Type), ReportType(x)) {
			return fail(fieldError("reports", fmt.Sprintf("report %s is not available for %s lookups; want %s", quote(x), c.Type, joinReports(ReportTypes(c.Type)))))
		}
	}
	for _, x := range dedupe(reports) {
		c.Reports = append(c.Reports, ReportType(x))
	}

	if c.Language, ok = r.string("language"); !ok {
		return fail(r.typeError("language", "a string"))
	}
	if r.present("language") && !slices.Contains(languages, c.Language) {
		return fail(fieldError("language", fmt.Sprintf("language %s is unknown; want one of %s", quote(c.Language), strings.Join(languages, ", "))))
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
		if key != "lookupId" {
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
		id, found = s, isString && ValidLookupID(s)
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

// compactObject returns raw, which must be a JSON object, as compact JSON.
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
