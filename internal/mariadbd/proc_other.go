//go:build !linux

package mariadbd

import "syscall"

// sysProcAttr: parent-death signals are Linux-only; elsewhere servers are only stopped by
// Stop/Kill/StopAll.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
