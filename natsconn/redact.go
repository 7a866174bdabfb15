package natsconn

// Redacting URLs: what may be shown of NATS_URL in logs, errors and help.

import (
	"net/url"
	"strings"
)

// RedactURL hides the whole userinfo (user, password or token) of every URL
// in a comma-separated list, however it is spelled: everything before the
// last @ of each URL becomes "redacted". A part that still does not read as
// a URL afterwards (a password holding a comma splits a URL in two) is
// replaced whole, since it may be a piece of a secret.
func RedactURL(list string) string {
	const unreadable = "(a URL that cannot be read)"
	parts := strings.Split(list, ",")
	lastSchemed := 0
	for i, p := range parts {
		p = strings.TrimSpace(p)
		scheme, rest, hasScheme := strings.Cut(p, "://")
		if hasScheme && !validScheme(scheme) {
			hasScheme = false
		}
		if !hasScheme {
			scheme, rest = "", p
			if strings.Contains(p, "@") {
				// The tail of a userinfo that a comma split: the pieces
				// before it, back to the last URL with a scheme, are the
				// rest of that secret.
				for j := lastSchemed; j < i; j++ {
					parts[j] = unreadable
				}
			}
		} else {
			lastSchemed = i
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = "redacted@" + rest[at+1:]
		}
		shown := rest
		if hasScheme {
			shown = scheme + "://" + rest
		}
		if !readable(shown, hasScheme) {
			shown = unreadable
		}
		parts[i] = shown
	}
	return strings.Join(parts, ",")
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}

// readable reports whether s, with its userinfo already redacted, is a
// plain URL or host:port that cannot be the tail of a secret.
func readable(s string, hasScheme bool) bool {
	if !hasScheme {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Scheme == "" || u.Opaque != "" {
		return false
	}
	if u.User != nil && u.User.String() != "redacted" {
		return false
	}
	return true
}
