package kybflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kybflow/kybflow/identifier"
)

// Limits of the contract. Lengths count characters (Unicode code points),
// sizes count bytes.
const (
	// MaxCommandSize is the largest command ParseCommand accepts.
	MaxCommandSize = 64 << 10
	// MaxMetadataSize is the largest metadata object, measured as compact
	// JSON (insignificant whitespace removed).
	MaxMetadataSize = 16 << 10
	// MaxLookupIDLength is the longest lookupId.
	MaxLookupIDLength = 128
	// MaxCorrelationIDLength is the longest correlationId.
	MaxCorrelationIDLength = 256
	// MaxIdentifierLength is the longest identifier, as written.
	MaxIdentifierLength = 64
)

// LookupType is what a lookup asks for.
type LookupType string

// The lookup types.
const (
	TypeOrganization     LookupType = "organization"
	TypeBeneficialOwners LookupType = "beneficial_owners"
)

// Country is the country of an organization lookup (ISO 3166 alpha-2).
type Country string

// The countries. Beneficial owner lookups are always NO.
const (
	CountryNO Country = "NO"
	CountrySE Country = "SE"
	CountryFI Country = "FI"
)

// IdentifierType says which kind of number LookupCommand.Identifier is. A
// 9-digit value can be a Norwegian organization number or a DUNS number and
// the digits cannot tell, so the caller says (see docs/identifiers.md).
type IdentifierType string

// The identifier types.
const (
	// IdentifierOrganizationNumber (the default) is the organization
	// number of the lookup's country, validated with its check digit.
	IdentifierOrganizationNumber IdentifierType = "organization_number"
	// IdentifierDUNS is a 9-digit D-U-N-S number, of any country.
	IdentifierDUNS IdentifierType = "duns"
)

// Kind returns the identifier kind that value is checked as in country c,
// and false when t or c is unknown.
func (t IdentifierType) Kind(c Country) (identifier.Kind, bool) {
	switch t {
	case IdentifierDUNS:
		return identifier.DUNS, true
	case IdentifierOrganizationNumber:
		if !c.valid() {
			return "", false
		}
		return identifier.ForCountry(string(c))
	}
	return "", false
}

// ReportType names a PDF report a lookup can store.
type ReportType string

// The report types (the same names as amlapi.ReportType).
const (
	ReportAML                        ReportType = "aml"
	ReportCertificateOfIncorporation ReportType = "certificate_of_incorporation"
)

// The enumerations duplicated from internal/amlapi (TestEnumsMatchAMLAPI
// keeps them equal). Unexported so nobody can change them; the exported
// functions below return copies.
var (
	organizationExpands = []string{
		"address",
		"financials", "financials.accounting", "financials.keyFigures", "financials.auditor", "financials.accountant",
		"financials.credit",
		"ownership", "ownership.beneficials", "ownership.subsidiaries", "ownership.shareholders", "ownership.indicators",
		"authorities", "roles",
		"sanction", "sanction.ofac",
		"links.reports.aml", "links.reports.certificate_of_incorporation",
	}
	beneficialOwnerExpands = []string{"citizenship", "birthplace", "ssn"}
	languages              = []string{"en", "no", "nb", "nn"}
)

// OrganizationExpands returns the expands an organization lookup accepts.
func OrganizationExpands() []string { return slices.Clone(organizationExpands) }

// BeneficialOwnerExpands returns the expands a beneficial owners lookup
// accepts. Each needs National Registry access; without it the lookup still
// succeeds and leaves those fields out.
func BeneficialOwnerExpands() []string { return slices.Clone(beneficialOwnerExpands) }

// Languages returns the languages a command accepts.
func Languages() []string { return slices.Clone(languages) }

// ReportTypes returns the reports a lookup of type t accepts: aml and
// certificate_of_incorporation for organizations, aml for beneficial owners.
func ReportTypes(t LookupType) []ReportType {
	if t == TypeBeneficialOwners {
		return []ReportType{ReportAML}
	}
	return []ReportType{ReportAML, ReportCertificateOfIncorporation}
}

// Expands returns the expands a lookup of type t accepts.
func Expands(t LookupType) []string {
	if t == TypeBeneficialOwners {
		return BeneficialOwnerExpands()
	}
	return OrganizationExpands()
}

func (t LookupType) valid() bool { return t == TypeOrganization || t == TypeBeneficialOwners }
func (c Country) valid() bool    { return c == CountryNO || c == CountrySE || c == CountryFI }
func (t IdentifierType) valid() bool {
	return t == IdentifierOrganizationNumber || t == IdentifierDUNS
}

// LookupCommand asks the worker to look up an organization or its
// beneficial owners. Publish it to Subjects.CommandLookup with EncodeCommand,
// with the Nats-Msg-Id header set to LookupID.
//
// A command returned by ParseCommand is valid and normalised: Country and
// IdentifierType are set (NO and organization_number by default),
// Identifier is in canonical form (identifier.Normalize), duplicate expands
// and reports are dropped, empty lists are nil, and Metadata is compact JSON
// or nil.
type LookupCommand struct {
	// LookupID is the caller's idempotency key, [A-Za-z0-9_-]{1,128}: one
	// lookupId is one lookup. It names the events' subjects and the
	// artifacts' keys. Required.
	LookupID string `json:"lookupId"`
	// Type is organization or beneficial_owners. Required.
	Type LookupType `json:"type"`
	// Country is NO, SE or FI; NO when absent. Beneficial owner lookups
	// are Norwegian: absent or NO.
	Country Country `json:"country,omitempty"`
	// IdentifierType is organization_number (default) or duns.
	IdentifierType IdentifierType `json:"identifierType,omitempty"`
	// Identifier is the organization number (of Country) or DUNS number.
	// Required.
	Identifier string `json:"identifier"`
	// Expands selects the blocks of the result (see Expands).
	Expands []string `json:"expands,omitempty"`
	// Reports selects PDF reports (see ReportTypes).
	Reports []ReportType `json:"reports,omitempty"`
	// Language of the reports: en, no, nb or nn.
	Language string `json:"language,omitempty"`
	// CorrelationID is the caller's own reference, echoed in every event.
	// It may be personal: it is never logged.
	CorrelationID string `json:"correlationId,omitempty"`
	// Metadata is a JSON object echoed untouched in every event. It may be
	// personal: it is never logged and never stored with the artifacts.
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// CommandError says why a command was rejected. ParseCommand returns it as
// error; get it with errors.As.
type CommandError struct {
	// Code is CodeInvalidCommand or CodeInvalidIdentifier.
	Code FailureCode
	// Field is the JSON name of the offending field, or "" when the
	// command as a whole is wrong (not JSON, too large).
	Field string
	// Reason is a readable, self-contained explanation.
	Reason string
	// LookupID is the command's lookupId when it could be read, so that
	// the worker can publish a failed event instead of a dead letter.
	LookupID string
	// CorrelationID and Metadata are the command's, when they could be
	// read and are valid, to echo in the failed event.
	CorrelationID string
	Metadata      json.RawMessage

	err error // the identifier error, for errors.Is(err, identifier.ErrInvalid)
}

func (e *CommandError) Error() string { return string(e.Code) + ": " + e.Reason }

// Unwrap returns the identifier error of an invalid_identifier error.
func (e *CommandError) Unwrap() error { return e.err }

// LogValue logs the error without the correlationId and metadata, and
// without the identifier's value (a mistyped organization number may be a
// personal identification number).
func (e *CommandError) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("code", string(e.Code))}
	if e.Field != "" {
		attrs = append(attrs, slog.String("field", e.Field))
	}
	if e.LookupID != "" {
		attrs = append(attrs, slog.String("lookupId", e.LookupID))
	}
	var idErr *identifier.Error
	if errors.As(e.err, &idErr) {
		attrs = append(attrs, slog.String("kind", string(idErr.Kind)), slog.String("reason", idErr.Reason))
	} else if e.Code == CodeInvalidIdentifier {
		attrs = append(attrs, slog.String("reason", "identifier too long"))
	} else {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	return slog.GroupValue(attrs...)
}

// FailedData is the data of the failed event for the rejected command, and
// false when its lookupId could not be read (the command is a dead letter).
func (e *CommandError) FailedData() (FailedData, bool) {
	if e.LookupID == "" {
		return FailedData{}, false
	}
	return FailedData{
		LookupID:      e.LookupID,
		CorrelationID: e.CorrelationID,
		Metadata:      e.Metadata,
		Code:          e.Code,
		Reason:        e.Reason,
		Retryable:     e.Code.Retryable(),
	}, true
}

// ValidLookupID reports whether s is a valid lookupId: 1 to 128 of
// A-Z a-z 0-9 _ -. Such an id is a single NATS subject token and a safe
// object key segment.
func ValidLookupID(s string) bool {
	if len(s) == 0 || len(s) > MaxLookupIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return false
		}
	}
	return true
}

func tokenByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-'
}

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

// EncodeCommand encodes c as JSON, after checking that ParseCommand accepts
// the result, so that a publisher never sends a command the worker rejects.
// The error is then ParseCommand's.
func EncodeCommand(c LookupCommand) ([]byte, error) {
	b, err := marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	if _, err := ParseCommand(b); err != nil {
		return nil, err
	}
	return b, nil
}

// LogValue logs the command without CorrelationID and Metadata, which are
// the caller's and may be personal; the identifier of an organization is
// not, but a value that is not a valid identifier of its kind might be (a
// personal number typed by mistake), so only a valid one is logged.
func (c LookupCommand) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("lookupId", c.LookupID),
		slog.String("type", string(c.Type)),
		slog.String("country", string(c.Country)),
	}
	if c.IdentifierType != "" {
		attrs = append(attrs, slog.String("identifierType", string(c.IdentifierType)))
	}
	if c.Identifier != "" {
		t := c.IdentifierType
		if t == "" {
			t = IdentifierOrganizationNumber
		}
		country := c.Country
		if country == "" {
			country = CountryNO
		}
		if k, ok := t.Kind(country); ok && identifier.Valid(k, c.Identifier) {
			attrs = append(attrs, slog.String("identifier", c.Identifier))
		} else {
			attrs = append(attrs, slog.String("identifier", "(invalid, not logged)"))
		}
	}
	if len(c.Expands) > 0 {
		attrs = append(attrs, slog.Any("expands", c.Expands))
	}
	if len(c.Reports) > 0 {
		attrs = append(attrs, slog.Any("reports", c.Reports))
	}
	if c.Language != "" {
		attrs = append(attrs, slog.String("language", c.Language))
	}
	if len(c.Metadata) > 0 {
		attrs = append(attrs, slog.Int("metadataBytes", len(c.Metadata)))
	}
	return slog.GroupValue(attrs...)
}

// String describes c without CorrelationID and Metadata, so that printing a
// command with %v does not leak them either.
func (c LookupCommand) String() string {
	return "LookupCommand" + c.LogValue().String()
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
