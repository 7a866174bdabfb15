package kybflow

// Tenants: two platforms sharing one deployment, kept apart by NATS
// permissions on subjects.
//
// A tenant is an optional subject token. A tenant's platform publishes its
// commands on <prefix>.commands.lookup.<tenant>; the worker takes the tenant
// from the subject alone (NATS authorised the publisher for it), never from
// the command's body. Its lookup is then named by its key, <tenant>.<lookupId>,
// wherever a lookupId names a lookup: the events' subjects
// (<prefix>.events.<tenant>.<lookupId>.<kind>), the state record, the
// object keys, the webhook path, the event ids. Lookups without a tenant
// keep today's names: their key is their lookupId. So two tenants may use
// the same lookupId without meeting, and a tenant's platform can be granted
// exactly its own subjects (<prefix>.events.<tenant>.*.*), which no lookup
// of another tenant, or of none, can match: a lookupId has no dot, so an
// untenanted lookup's events have one token fewer.

import (
	"strings"
)

// MaxTenantLength is the longest tenant.
const MaxTenantLength = 64

// ValidTenant reports whether s is a valid tenant: 1 to 64 of
// A-Z a-z 0-9 _ - (one subject token, like a lookupId).
func ValidTenant(s string) bool {
	if len(s) == 0 || len(s) > MaxTenantLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return false
		}
	}
	return true
}

// LookupKey is the name of the lookup lookupID of tenant: <tenant>.<lookupId>,
// or the lookupId alone without a tenant. Both must be valid.
func LookupKey(tenant, lookupID string) string {
	if tenant == "" {
		return lookupID
	}
	return tenant + "." + lookupID
}

// SplitLookupKey is the tenant and the lookupId of a lookup key, and
// whether key is one.
func SplitLookupKey(key string) (tenant, lookupID string, ok bool) {
	tenant, lookupID, dotted := strings.Cut(key, ".")
	if !dotted {
		return "", key, ValidLookupID(key)
	}
	return tenant, lookupID, ValidTenant(tenant) && ValidLookupID(lookupID)
}

// ValidLookupKey reports whether s is a lookup key: a lookupId, or a tenant
// and a lookupId joined by a dot.
func ValidLookupKey(s string) bool {
	_, _, ok := SplitLookupKey(s)
	return ok
}

// Key is the name of the command's lookup: LookupKey(c.Tenant, c.LookupID).
func (c LookupCommand) Key() string { return LookupKey(c.Tenant, c.LookupID) }

// CommandLookupOf is where the platform of tenant publishes its commands:
// <prefix>.commands.lookup.<tenant>, or CommandLookup without a tenant.
func (s Subjects) CommandLookupOf(tenant string) string {
	if tenant == "" {
		return s.CommandLookup()
	}
	return s.CommandLookup() + "." + tenant
}

// CommandTenant is the tenant of a command published on subject, and
// whether subject is where commands are published: CommandLookup (no
// tenant) or CommandLookupOf a valid tenant.
func (s Subjects) CommandTenant(subject string) (string, bool) {
	return tenantOf(subject, s.CommandLookup())
}

// EventsOfTenant matches every event of the lookups of tenant:
// <prefix>.events.<tenant>.*.* (never an untenanted lookup's, which has a
// token fewer). The subject to grant a tenant's platform.
func (s Subjects) EventsOfTenant(tenant string) string {
	return s.prefix() + ".events." + tenant + ".*.*"
}
