//go:build !linux

package main

func noEcho() func() { return func() {} }
