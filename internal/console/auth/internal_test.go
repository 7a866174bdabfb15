package auth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func testKeys(t testing.TB) *keys {
	t.Helper()
	k, err := deriveKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealBindsTheCookieName(t *testing.T) {
	k := testKeys(t)
	v, err := k.seal(LoginCookie, loginCookie{State: "s", Nonce: "n", Verifier: "v", Next: "/", Expires: 1})
	if err != nil {
		t.Fatal(err)
	}
	var sc sessionCookie
	if err := k.open(SessionCookie, v, &sc); !errors.Is(err, ErrBadCookie) {
		t.Errorf("a login cookie opened as a session: %v", err)
	}
	var lc loginCookie
	if err := k.open(LoginCookie, v, &lc); err != nil || lc.State != "s" {
		t.Errorf("open: %+v %v", lc, err)
	}
}

func FuzzOpenCookie(f *testing.F) {
	k := testKeys(f)
	good, _ := k.seal(SessionCookie, sessionCookie{V: 1, ID: "i", Subject: "s", Role: RoleViewer, Expires: 9})
	for _, s := range []string{good, "", "AAAA", strings.Repeat("A", 60), good[:len(good)-2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var sc sessionCookie
		if err := k.open(SessionCookie, v, &sc); err != nil {
			if !errors.Is(err, ErrBadCookie) {
				t.Fatalf("error without ErrBadCookie: %v", err)
			}
			return
		}
		// Only what was sealed opens (the seed, sealed with the same key).
		if sc != (sessionCookie{V: 1, ID: "i", Subject: "s", Role: RoleViewer, Expires: 9}) {
			t.Fatalf("%q opened as %+v", v, sc)
		}
	})
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/lookups?state=failed", "//evil.example", "/\\evil", "https://evil.example/", "/a\r\nb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q, changed", next, got)
		}
	})
}

func FuzzRoleClaims(f *testing.F) {
	for _, s := range []string{`{"kybflow_roles":["viewer","operator"]}`, `{"kybflow_roles":"officer"}`,
		`{"realm_access":{"roles":["officer"]}}`, `{"kybflow_roles":[1,null,{}]}`, `{}`} {
		f.Add([]byte(s), "kybflow_roles")
	}
	f.Add([]byte(`{"realm_access":{"roles":["officer"]}}`), "realm_access.roles")
	f.Fuzz(func(t *testing.T, b []byte, claim string) {
		var claims map[string]any
		if json.Unmarshal(b, &claims) != nil {
			return
		}
		r := RoleOf(claims, claim, nil)
		if r != "" && !r.Valid() {
			t.Fatalf("RoleOf = %q, no role", r)
		}
	})
}

func FuzzParseRoleMap(f *testing.F) {
	for _, s := range []string{"", "a=viewer", "aml-readers=viewer,aml-compliance=officer ops=operator", "a=admin", "=viewer", "a=viewer,a=officer"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseRoleMap(s)
		if err != nil {
			return
		}
		for _, r := range m {
			if !r.Valid() {
				t.Fatalf("ParseRoleMap(%q) maps to %q", s, r)
			}
		}
		again, err := ParseRoleMap(FormatRoleMap(m))
		if err != nil || len(again) != len(m) {
			t.Fatalf("FormatRoleMap does not read back: %v", err)
		}
	})
}
