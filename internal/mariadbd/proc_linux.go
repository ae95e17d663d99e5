//go:build linux

package mariadbd

import "syscall"

// sysProcAttr makes the kernel SIGKILL the child when the thread that started it dies; children
// are started from a locked, never-exiting OS thread (see startProcess), so in practice this
// happens exactly when the parent process exits, even on panic or os.Exit.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
