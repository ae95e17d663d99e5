//go:build !linux

package twopc

import "syscall"

func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
