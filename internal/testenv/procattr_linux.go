package testenv

import "syscall"

// procAttr makes the kernel kill MinIO if the test binary dies without
// running its cleanups (a -timeout panic, a SIGKILL), so no server outlives
// the test.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
