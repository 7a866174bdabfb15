package amlapi

// The parts shared by the result documents (see document.go): sources, codes,
// addresses, and the redaction of personal data.

import (
	"bytes"
	"encoding/json"
	"log/slog"
)

// redacted replaces personal data in logs.
const redacted = "[redacted]"

// Metadata tells where the data of a block came from.
type Metadata struct {
	Sources []Source `json:"sources,omitzero"`
}

// Source is one data source of a block. A bare JSON string decodes as the
// Name.
type Source struct {
	Name      string `json:"name,omitzero"`
	Authority string `json:"authority,omitzero"`
	Updated   string `json:"updated,omitzero"` // date or time, as sent
}

// UnmarshalJSON accepts an object or a bare string (the name).
func (s *Source) UnmarshalJSON(data []byte) error {
	type plain Source
	return stringOrObject(data, &s.Name, (*plain)(s))
}

// Code is a coded value with its text, such as an organization type
// {"code": "AS", "description": "Aksjeselskap"}. A bare JSON string decodes
// as the Code. Unknown codes are tolerated.
type Code struct {
	Code        string `json:"code,omitzero"`
	Description string `json:"description,omitzero"`
}

// UnmarshalJSON accepts an object or a bare string (the code).
func (c *Code) UnmarshalJSON(data []byte) error {
	type plain Code
	return stringOrObject(data, &c.Code, (*plain)(c))
}

// stringOrObject decodes a JSON string into *s, and anything else into obj.
func stringOrObject(data []byte, s *string, obj any) error {
	if d := bytes.TrimLeft(data, " \t\r\n"); len(d) > 0 && d[0] == '"' {
		return json.Unmarshal(data, s)
	}
	return json.Unmarshal(data, obj)
}

// Address is a postal or visiting address. Addresses of persons are
// personal data: LogValue redacts everything but the country.
type Address struct {
	AddressLine  string `json:"addressLine,omitzero"`
	PostalCode   string `json:"postalCode,omitzero"`
	City         string `json:"city,omitzero"`
	Municipality string `json:"municipality,omitzero"`
	Country      string `json:"country,omitzero"` // ISO 3166 alpha-2, as sent
}

// LogValue redacts the address, keeping the country.
func (a Address) LogValue() slog.Value {
	return slog.GroupValue(slog.String("address", redacted), slog.String("country", a.Country))
}

// SSN is a national identity number (Norwegian fødselsnummer). It is
// redacted when logged or formatted with fmt; convert it to a string to use
// it.
type SSN string

// String returns "[redacted]" so that fmt never prints the number.
func (SSN) String() string { return redacted }

// GoString returns "[redacted]" so that %#v never prints the number.
func (SSN) GoString() string { return redacted }

// LogValue redacts the number.
func (SSN) LogValue() slog.Value { return slog.StringValue(redacted) }
