package auth_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/envconfig"
)

func TestRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		r, min auth.Role
		want   bool
	}{
		{auth.RoleViewer, auth.RoleViewer, true}, {auth.RoleViewer, auth.RoleOfficer, false},
		{auth.RoleOfficer, auth.RoleViewer, true}, {auth.RoleOfficer, auth.RoleOperator, false},
		{auth.RoleOperator, auth.RoleOfficer, true}, {"admin", auth.RoleViewer, false}, {auth.RoleOperator, "admin", false},
	} {
		if got := tc.r.Allows(tc.min); got != tc.want {
			t.Errorf("%q.Allows(%q) = %v", tc.r, tc.min, got)
		}
	}
}

func TestRoleOf(t *testing.T) {
	m := map[string]auth.Role{"aml-readers": auth.RoleViewer, "aml-ops": auth.RoleOperator}
	for _, tc := range []struct {
		claims map[string]any
		claim  string
		m      map[string]auth.Role
		want   auth.Role
	}{
		{map[string]any{"kybflow_roles": []any{"viewer", "operator", "officer"}}, "kybflow_roles", nil, auth.RoleOperator},
		{map[string]any{"kybflow_roles": "officer"}, "kybflow_roles", nil, auth.RoleOfficer},
		{map[string]any{"kybflow_roles": []any{"admin"}}, "kybflow_roles", nil, ""},
		{map[string]any{}, "kybflow_roles", nil, ""},
		{map[string]any{"realm_access": map[string]any{"roles": []any{"aml-readers"}}}, "realm_access.roles", m, auth.RoleViewer},
		{map[string]any{"groups": []any{"viewer", "aml-ops"}}, "groups", m, auth.RoleOperator},
		{map[string]any{"groups": []any{"operator"}}, "groups", m, ""}, // with a map, only the map counts
		{map[string]any{"https://example.com/roles": []any{"officer"}}, "https://example.com/roles", nil, auth.RoleOfficer},
	} {
		if got := auth.RoleOf(tc.claims, tc.claim, tc.m); got != tc.want {
			t.Errorf("RoleOf(%v, %q) = %q, want %q", tc.claims, tc.claim, got, tc.want)
		}
	}
}

func TestSettings(t *testing.T) {
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	full := map[string]string{
		"OIDC_ISSUER_URL": "https://idp.example/realms/x", "OIDC_CLIENT_ID": "console", "OIDC_CLIENT_SECRET": "s3cret",
		"OIDC_REDIRECT_URL": "https://console.example/callback", "CONSOLE_SESSION_KEY": key,
		"OIDC_ROLE_MAP": "aml-readers=viewer,aml-ops=operator",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range full {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // in the error; "" for none
	}{
		{"full", full, ""},
		{"none", map[string]string{}, ""},
		{"no key", with("CONSOLE_SESSION_KEY", ""), "CONSOLE_SESSION_KEY"},
		{"short key", with("CONSOLE_SESSION_KEY", "c2hvcnQ="), "CONSOLE_SESSION_KEY"},
		{"no secret", with("OIDC_CLIENT_SECRET", ""), "OIDC_CLIENT_SECRET"},
		{"http redirect", with("OIDC_REDIRECT_URL", "http://console.example/callback"), "OIDC_REDIRECT_URL"},
		{"loopback http redirect", with("OIDC_REDIRECT_URL", "http://127.0.0.1:8490/callback"), ""},
		{"bad role map", with("OIDC_ROLE_MAP", "x=admin"), "OIDC_ROLE_MAP"},
		{"client without issuer", with("OIDC_ISSUER_URL", ""), "OIDC_ISSUER_URL"},
		{"bad TTL", with("CONSOLE_SESSION_TTL", "-1h"), "CONSOLE_SESSION_TTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := auth.DefaultSettings()
			set := envconfig.New("console", envconfig.MapLookup(tc.env), io.Discard)
			s.Register(set)
			err := set.Parse(nil)
			if err == nil {
				var ck envconfig.Checker
				s.Check(&ck)
				err = ck.Err()
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the secret: %v", err)
			}
			if strings.Contains(s.String(), "s3cret") || strings.Contains(s.String(), key) {
				t.Errorf("String shows a secret: %s", s)
			}
		})
	}
}

func ExampleRole_Allows() {
	for _, r := range auth.Roles {
		fmt.Println(r, "opens documents:", r.Allows(auth.RoleOfficer))
	}
	// Output:
	// viewer opens documents: false
	// officer opens documents: true
	// operator opens documents: true
}
