package twopc

import "syscall"

// procAttr kills the proxy when the test process dies, so no proxy outlives
// a crashed or interrupted test.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
