package docker

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func nowUnix() int64 { return time.Now().Unix() }

// Host ports are chosen up front, so that a container keeps its published
// ports across stop/start. They come from below the kernel's ephemeral range
// (where outgoing connections take their local ports, which could occupy a
// port while its container is down), are checked free on 127.0.0.1, and are
// never handed out twice by this process.
var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{}
)

const portRangeLow = 20000

func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo > portRangeLow+1000 {
				return lo
			}
		}
	}
	return 32768
}

// freePort returns a TCP port that is free on 127.0.0.1 now.
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	hi := ephemeralLow()
	for range 200 {
		p := portRangeLow + rand.IntN(hi-portRangeLow)
		if portsUsed[p] || !portFree(p) {
			continue
		}
		portsUsed[p] = true
		return p, nil
	}
	// Fall back to a kernel-chosen port.
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("docker: no free port on 127.0.0.1: %w", err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !portsUsed[p] {
			portsUsed[p] = true
			return p, nil
		}
	}
	return 0, fmt.Errorf("docker: no free port on 127.0.0.1")
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// normPort turns "6379" into "6379/tcp" and checks the form.
func normPort(p string) (string, error) {
	num, proto, ok := strings.Cut(p, "/")
	if !ok {
		proto = "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n > 65535 || (proto != "tcp" && proto != "udp") {
		return "", fmt.Errorf("docker: bad port %q (want e.g. \"6379/tcp\")", p)
	}
	return strconv.Itoa(n) + "/" + proto, nil
}
