package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// noEcho turns the terminal's echo off while a password is typed; the
// returned function restores it. Without a terminal it does nothing.
func noEcho() func() {
	fd := int(os.Stdin.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	old := *t
	t.Lflag &^= unix.ECHO
	if unix.IoctlSetTermios(fd, unix.TCSETS, t) != nil {
		return func() {}
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, &old) }
}
