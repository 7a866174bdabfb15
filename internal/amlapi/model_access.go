package amlapi

// Access (see model.go): the OAuth2/OIDC token endpoint and scopes, and what
// the National Registry access lets through. What a beneficial owners
// document says it left out for lack of that access (its metadata) is read
// by BeneficialOwnersDocument.Summary (summary.go).

import "time"

// ---- OAuth2 / OIDC (confirmed) ----

// WellKnownPath is appended to the issuer URL to discover the token endpoint.
const WellKnownPath = "/.well-known/openid-configuration"

// TokenPath is the token endpoint below a Keycloak-style issuer; used by the
// sandbox, and by the client only as documentation (it discovers the URL).
const TokenPath = "/protocol/openid-connect/token"

// DefaultTokenLifetime is the lifetime of the documented example token.
const DefaultTokenLifetime = 300 * time.Second

// Scopes (confirmed).
const (
	ScopeBasic            = "aml_organization/basic"
	ScopeOFAC             = "aml_organization/OFAC"
	ScopeFinancialsCredit = "aml_organization/financials.credit"
)

// Discovery is the part of the OpenID configuration document we read.
type Discovery struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
}

// ---- Access rights (model) ----

// NationalRegistryAccess tells whether the customer has delegated access to
// the Norwegian National Registry. Unknown values are tolerated.
type NationalRegistryAccess string

// National Registry access values (model).
const (
	AccessGranted NationalRegistryAccess = "GRANTED"
	AccessPending NationalRegistryAccess = "PENDING"
	AccessMissing NationalRegistryAccess = "MISSING"
)

// AccessRights is the answer to GET AccessRightsPath (model).
type AccessRights struct {
	NationalRegistry NationalRegistryAccess `json:"nationalRegistry"`
}
