// Package identifier validates and normalises the organization identifiers
// that the BankID AML API accepts: Norwegian organization numbers, Swedish
// organization numbers, Finnish business IDs (Y-tunnus) and DUNS numbers.
//
// It is a leaf package with no dependencies of ours, so that the API client,
// the message contract and the sandbox all share one set of rules.
//
// A 9-digit value can be either a Norwegian organization number or a DUNS
// number; the digits alone cannot tell. This package never guesses: callers
// say which kind they mean (see Kind), and [ForCountry] picks the
// organization-number kind of a country. See docs/identifiers.md.
package identifier

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode"
)

// Kind is the kind of an identifier.
type Kind string

// The kinds of identifier.
const (
	// NorwegianOrgNumber is a 9-digit Norwegian organization number whose
	// last digit is a mod-11 check digit over weights 3,2,7,6,5,4,3,2.
	NorwegianOrgNumber Kind = "no_org_number"
	// SwedishOrgNumber is a 10-digit Swedish organization number
	// (NNNNNN-NNNN) whose last digit is a Luhn check digit over all ten.
	SwedishOrgNumber Kind = "se_org_number"
	// FinnishBusinessID is a Finnish business ID, Y-tunnus (NNNNNNN-C),
	// whose check digit is mod 11 over weights 7,9,10,5,8,4,2.
	FinnishBusinessID Kind = "fi_business_id"
	// DUNS is a 9-digit D-U-N-S number; it has no public check digit.
	DUNS Kind = "duns"
)

// ErrInvalid is the error every validation failure wraps, so that callers
// can classify one with errors.Is(err, identifier.ErrInvalid).
var ErrInvalid = errors.New("invalid identifier")

// Error says what is wrong with an identifier. It wraps [ErrInvalid].
type Error struct {
	Kind   Kind   // the kind the value was checked as
	Value  string // the value as given
	Reason string // what is wrong, e.g. "check digit is 7, want 6"
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Kind.Description(), e.Value, e.Reason)
}

// LogValue logs the error without the value, which may be a personal
// identification number typed where an organization number belongs.
func (e *Error) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", e.Kind.Description()), slog.String("reason", e.Reason))
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// Description is a readable name of the kind, for messages.
func (k Kind) Description() string {
	switch k {
	case NorwegianOrgNumber:
		return "Norwegian organization number"
	case SwedishOrgNumber:
		return "Swedish organization number"
	case FinnishBusinessID:
		return "Finnish business ID"
	case DUNS:
		return "DUNS number"
	default:
		return "identifier of kind " + string(k)
	}
}

// ForCountry returns the organization-number kind of an ISO 3166 alpha-2
// country code (NO, SE, FI, in any case), and false for any other country.
func ForCountry(country string) (Kind, bool) {
	switch strings.ToUpper(country) {
	case "NO":
		return NorwegianOrgNumber, true
	case "SE":
		return SwedishOrgNumber, true
	case "FI":
		return FinnishBusinessID, true
	}
	return "", false
}

// Normalize validates value as an identifier of kind k and returns its
// canonical form: digits only for Norwegian and Swedish organization numbers
// and DUNS numbers, NNNNNNN-C for Finnish business IDs.
//
// White space of any kind is ignored everywhere. The dash of a Swedish number and of a
// Finnish business ID is optional; a DUNS number may be written with dashes
// (NN-NNN-NNNN). A Swedish number may carry the century prefix "16" that
// organizations get in 12-digit form.
func Normalize(k Kind, value string) (string, error) {
	invalid := func(format string, args ...any) (string, error) {
		return "", &Error{Kind: k, Value: value, Reason: fmt.Sprintf(format, args...)}
	}
	// Spaces of any kind are ignored: numbers are pasted from documents
	// that group digits with no-break or thin spaces, or end in a newline.
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, value)
	if s == "" {
		return invalid("empty")
	}
	switch k {
	case NorwegianOrgNumber:
		if !allDigits(s) || len(s) != 9 {
			return invalid("want 9 digits")
		}
		check, ok := mod11(s[:8], []int{3, 2, 7, 6, 5, 4, 3, 2})
		if !ok {
			return invalid("no valid check digit exists for the first 8 digits")
		}
		if got := int(s[8] - '0'); got != check {
			return invalid("check digit is %d, want %d", got, check)
		}
		return s, nil

	case SwedishOrgNumber:
		if len(s) == 11 && s[6] == '-' {
			s = s[:6] + s[7:]
		} else if len(s) == 13 && s[8] == '-' && strings.HasPrefix(s, "16") {
			s = s[2:8] + s[9:]
		} else if len(s) == 12 && strings.HasPrefix(s, "16") {
			s = s[2:]
		}
		if !allDigits(s) || len(s) != 10 {
			return invalid("want 10 digits, NNNNNN-NNNN")
		}
		if want := luhnCheck(s[:9]); int(s[9]-'0') != want {
			return invalid("check digit is %c, want %d", s[9], want)
		}
		return s, nil

	case FinnishBusinessID:
		if len(s) == 9 && s[7] == '-' {
			s = s[:7] + s[8:]
		}
		if !allDigits(s) || len(s) != 8 {
			return invalid("want NNNNNNN-C")
		}
		check, ok := mod11(s[:7], []int{7, 9, 10, 5, 8, 4, 2})
		if !ok {
			return invalid("no valid check digit exists for the first 7 digits")
		}
		if got := int(s[7] - '0'); got != check {
			return invalid("check digit is %d, want %d", got, check)
		}
		return s[:7] + "-" + s[7:], nil

	case DUNS:
		if len(s) == 11 && s[2] == '-' && s[6] == '-' {
			s = s[:2] + s[3:6] + s[7:]
		}
		if !allDigits(s) || len(s) != 9 {
			return invalid("want 9 digits")
		}
		return s, nil
	}
	return "", &Error{Kind: k, Value: value, Reason: "unknown identifier kind"}
}

// Valid reports whether value is a valid identifier of kind k.
func Valid(k Kind, value string) bool {
	_, err := Normalize(k, value)
	return err == nil
}

// CheckDigit computes the check digit that completes the body of an
// identifier of kind k (8 digits for Norwegian, 9 for Swedish, 7 for
// Finnish numbers). It reports false when no check digit exists for the
// body (mod 11 remainder 1) or the body is malformed. Tests and the sandbox
// use it to make valid synthetic identifiers.
func CheckDigit(k Kind, body string) (int, bool) {
	if !allDigits(body) {
		return 0, false
	}
	switch k {
	case NorwegianOrgNumber:
		if len(body) != 8 {
			return 0, false
		}
		return mod11(body, []int{3, 2, 7, 6, 5, 4, 3, 2})
	case SwedishOrgNumber:
		if len(body) != 9 {
			return 0, false
		}
		return luhnCheck(body), true
	case FinnishBusinessID:
		if len(body) != 7 {
			return 0, false
		}
		return mod11(body, []int{7, 9, 10, 5, 8, 4, 2})
	}
	return 0, false
}

// mod11 computes the weighted mod-11 check digit used by Norway and Finland:
// r = sum mod 11; 0 when r is 0, none when r is 1, else 11 - r.
func mod11(digits string, weights []int) (int, bool) {
	sum := 0
	for i, w := range weights {
		sum += int(digits[i]-'0') * w
	}
	switch r := sum % 11; r {
	case 0:
		return 0, true
	case 1:
		return 0, false
	default:
		return 11 - r, true
	}
}

// luhnCheck computes the Luhn check digit for body: every second digit from
// the right of the full number (so from the left of a 9-digit body, the
// first) is doubled.
func luhnCheck(body string) int {
	sum := 0
	double := true // the rightmost digit of body sits left of the check digit
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}
