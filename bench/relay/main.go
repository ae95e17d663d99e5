// Command relay is a bare TCP forwarder used as the benchmark's ceiling: it accepts
// connections, dials the backend for each and copies bytes both ways, without parsing
// anything. Whatever it costs is what any proxy in its place costs at least on the same
// machine (a second process on the CPU, two more sockets and a copy per packet).
//
//	relay -listen 127.0.0.1:0 -backend 127.0.0.1:3306
//
// It prints "relay listening on ADDR" on stdout once it accepts connections and runs until
// killed.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept clients on")
	backend := flag.String("backend", "", "address to forward to (host:port)")
	flag.Parse()
	if *backend == "" {
		fmt.Fprintln(os.Stderr, "relay: -backend is required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("relay: %v", err)
	}
	fmt.Printf("relay listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatalf("relay: accept: %v", err)
		}
		go forward(c, *backend)
	}
}

func forward(client net.Conn, backend string) {
	defer client.Close()
	server, err := net.Dial("tcp", backend)
	if err != nil {
		log.Printf("relay: dial %s: %v", backend, err)
		return
	}
	defer server.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(server, client)
		server.Close() // unblocks the other direction
		close(done)
	}()
	io.Copy(client, server)
	client.Close()
	<-done
}
