// Package logging builds the slog.Logger of a binary: JSON in production,
// text for people, at a configured level. Personal data is kept out of logs
// by type, not by care: the types that hold it (commands' metadata, result
// documents, owners) implement slog.LogValuer and redact themselves.
package logging

import (
	"io"
	"log/slog"
)

// New returns a logger writing to w in format "json" or "text" at level
// "debug", "info", "warn" or "error" ("" is json, and info): Settings.New
// with LOG_FORMAT and LOG_LEVEL.
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	return Settings{Format: format, Level: level}.New(w)
}
