//go:build !linux

package testenv

import "syscall"

// procAttr returns nil: only Linux can tie the child's life to the parent's.
// Elsewhere a test binary killed without cleanups can leave MinIO running.
func procAttr() *syscall.SysProcAttr { return nil }
