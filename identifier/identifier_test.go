package identifier

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		kind    Kind
		in      string
		want    string
		wantErr string // substring of the error; empty for valid input
	}{
		// The valid examples of aml-api.md.
		{NorwegianOrgNumber, "923609016", "923609016", ""},
		{NorwegianOrgNumber, "974760673", "974760673", ""},
		{NorwegianOrgNumber, "988077917", "988077917", ""},
		{NorwegianOrgNumber, "923 609 016", "923609016", ""},
		{NorwegianOrgNumber, "923\u00a0609\u202f016\n", "923609016", ""}, // no-break, narrow no-break, newline
		{SwedishOrgNumber, "\t556036-0793 ", "5560360793", ""},
		{SwedishOrgNumber, "5560360793", "5560360793", ""},
		{SwedishOrgNumber, "556036-0793", "5560360793", ""},
		{SwedishOrgNumber, "165560360793", "5560360793", ""},
		{SwedishOrgNumber, "16556036-0793", "5560360793", ""},
		{FinnishBusinessID, "2077474-0", "2077474-0", ""},
		{FinnishBusinessID, "0112038-9", "0112038-9", ""},
		{FinnishBusinessID, "20774740", "2077474-0", ""},
		{DUNS, "150483782", "150483782", ""},
		{DUNS, "15-048-3782", "150483782", ""},

		// Wrong check digits name what is wrong.
		{NorwegianOrgNumber, "923609017", "", "check digit is 7, want 6"},
		{SwedishOrgNumber, "5560360794", "", "check digit is 4, want 3"},
		{FinnishBusinessID, "2077474-1", "", "check digit is 1, want 0"},
		// Remainder 1: no check digit can make the number valid.
		{NorwegianOrgNumber, "000000060", "", "no valid check digit"},
		// Shapes.
		{NorwegianOrgNumber, "", "", "empty"},
		{NorwegianOrgNumber, "92360901", "", "want 9 digits"},
		{NorwegianOrgNumber, "92360901a", "", "want 9 digits"},
		{SwedishOrgNumber, "55603607", "", "want 10 digits"},
		{SwedishOrgNumber, "5560-360793", "", "want 10 digits"},
		{FinnishBusinessID, "2077474", "", "want NNNNNNN-C"},
		{FinnishBusinessID, "207747-40", "", "want NNNNNNN-C"},
		{DUNS, "12345678", "", "want 9 digits"},
		{DUNS, "1234567890", "", "want 9 digits"},
		{Kind("xx"), "123", "", "unknown identifier kind"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.kind, tt.in), func(t *testing.T) {
			got, err := Normalize(tt.kind, tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Normalize: %v", err)
				}
				if got != tt.want {
					t.Fatalf("Normalize = %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Normalize = %q, want error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.in) && tt.in != "" {
				t.Fatalf("error %q does not name the value %q", err, tt.in)
			}
		})
	}
}

func TestCheckDigitCompletesValidNumbers(t *testing.T) {
	for _, tt := range []struct {
		kind Kind
		full string
	}{
		{NorwegianOrgNumber, "923609016"},
		{NorwegianOrgNumber, "974760673"},
		{NorwegianOrgNumber, "988077917"},
		{SwedishOrgNumber, "5560360793"},
		{FinnishBusinessID, "20774740"},
		{FinnishBusinessID, "01120389"},
	} {
		body, last := tt.full[:len(tt.full)-1], int(tt.full[len(tt.full)-1]-'0')
		got, ok := CheckDigit(tt.kind, body)
		if !ok || got != last {
			t.Errorf("CheckDigit(%s, %s) = %d, %v; want %d", tt.kind, body, got, ok, last)
		}
	}
	if _, ok := CheckDigit(NorwegianOrgNumber, "00000006"); ok {
		t.Error("CheckDigit found a digit for a remainder-1 body")
	}
}

func TestForCountry(t *testing.T) {
	for in, want := range map[string]Kind{"NO": NorwegianOrgNumber, "se": SwedishOrgNumber, "Fi": FinnishBusinessID} {
		if got, ok := ForCountry(in); !ok || got != want {
			t.Errorf("ForCountry(%q) = %q, %v", in, got, ok)
		}
	}
	if _, ok := ForCountry("DK"); ok {
		t.Error("ForCountry(DK) ok")
	}
}

// FuzzNormalize checks that Normalize never panics, that whatever it accepts
// is canonical (normalising it again is the identity), and that it agrees
// with CheckDigit.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"923609016", "5560360793", "556036-0793", "2077474-0", "0112038-9", "15-048-3782", "", "-", "16-", "0000000-0"} {
		f.Add(s)
	}
	kinds := []Kind{NorwegianOrgNumber, SwedishOrgNumber, FinnishBusinessID, DUNS}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range kinds {
			got, err := Normalize(k, s)
			if err != nil {
				var ie *Error
				if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Normalize(%s, %q) error %v is not an *Error wrapping ErrInvalid", k, s, err)
				}
				continue
			}
			again, err := Normalize(k, got)
			if err != nil || again != got {
				t.Fatalf("Normalize(%s, %q) = %q is not canonical: %q, %v", k, s, got, again, err)
			}
			if k == DUNS {
				continue
			}
			digits := strings.ReplaceAll(got, "-", "")
			cd, ok := CheckDigit(k, digits[:len(digits)-1])
			if !ok || cd != int(digits[len(digits)-1]-'0') {
				t.Fatalf("Normalize accepted %q (%s) but CheckDigit says %d, %v", s, k, cd, ok)
			}
		}
	})
}
