package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/evalrun/evalrun/drivers"
	"github.com/evalrun/evalrun/internal/drivertest"
)

// Unit tests: no Docker. A fake Redis Cluster node speaks enough RESP for
// go-redis.

func TestMapAddr(t *testing.T) {
	m := func(internal string) (string, bool) {
		if internal == "172.20.0.3:6379" {
			return "127.0.0.1:23456", true
		}
		return "", false
	}
	for _, tt := range []struct {
		in, want string
		err      bool
	}{
		{"127.0.0.1:30001", "127.0.0.1:30001", false},
		{"localhost:30001", "localhost:30001", false},
		{"[::1]:30001", "[::1]:30001", false},
		{"172.20.0.3:6379", "127.0.0.1:23456", false},
		{"172.20.0.4:6379", "", true},
		{"10.0.0.1:6379", "", true},
		{"garbage", "", true},
	} {
		got, err := mapAddr(m, tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("mapAddr(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil && tt.in != "garbage" && (!errors.Is(err, drivers.ErrUnavailable) || !errors.Is(err, errNoRoute)) {
			t.Errorf("mapAddr(%q) error %v is not unavailable/no route", tt.in, err)
		}
	}
	if _, err := mapAddr(nil, "172.20.0.3:6379"); err == nil {
		t.Error("no mapper: a container address passed")
	}
}

func TestHostDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var asked []string
	m := func(internal string) (string, bool) {
		asked = append(asked, internal)
		if internal == "172.20.0.3:6379" {
			return ln.Addr().String(), true
		}
		return "", false
	}
	unknown := 0
	dial := hostDialer(m, time.Second, func() { unknown++ })
	conn, err := dial(t.Context(), "tcp", "172.20.0.3:6379")
	if err != nil {
		t.Fatalf("dial a mapped address: %v", err)
	}
	if conn.RemoteAddr().String() != ln.Addr().String() {
		t.Errorf("dialled %s, want %s", conn.RemoteAddr(), ln.Addr())
	}
	conn.Close()
	t0 := time.Now()
	if _, err := dial(t.Context(), "tcp", "172.20.0.9:6379"); !errors.Is(err, errNoRoute) {
		t.Errorf("dial an unknown container address: %v", err)
	}
	if time.Since(t0) > 100*time.Millisecond || unknown != 1 {
		t.Errorf("an unknown address took %s (it must not be dialled) and reported %d times", time.Since(t0), unknown)
	}
	if fmt.Sprint(asked) != "[172.20.0.3:6379 172.20.0.9:6379]" {
		t.Errorf("mapper asked %v", asked)
	}
}

// fakeRedisErr is a Redis error reply, as go-redis returns them.
type fakeRedisErr string

func (e fakeRedisErr) Error() string { return string(e) }
func (fakeRedisErr) RedisError()     {}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestMapError(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	ctx := t.Context()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	tests := []drivertest.ErrorCase{
		{Name: "clusterdown", Ctx: ctx, Err: fakeRedisErr("CLUSTERDOWN The cluster is down"), Is: []error{drivers.ErrUnavailable}, Not: []error{context.DeadlineExceeded}},
		{Name: "clusterdown no slot", Ctx: ctx, Err: fakeRedisErr("CLUSTERDOWN Hash slot not served"), Is: []error{drivers.ErrUnavailable}},
		{Name: "tryagain", Ctx: ctx, Err: fakeRedisErr("TRYAGAIN Multiple keys request during rehashing of slot"), Is: []error{drivers.ErrUnavailable}},
		{Name: "masterdown", Ctx: ctx, Err: fakeRedisErr("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), Is: []error{drivers.ErrUnavailable}},
		{Name: "loading", Ctx: ctx, Err: fakeRedisErr("LOADING Redis is loading the dataset in memory"), Is: []error{drivers.ErrUnavailable}},
		{Name: "readonly", Ctx: ctx, Err: fakeRedisErr("READONLY You can't write against a read only replica."), Is: []error{drivers.ErrUnavailable}},
		{Name: "moved", Ctx: ctx, Err: fakeRedisErr("MOVED 3999 172.20.0.3:6379"), Is: []error{drivers.ErrUnavailable}},
		{Name: "eof", Ctx: ctx, Err: io.EOF, Is: []error{drivers.ErrUnavailable}, Not: []error{context.DeadlineExceeded}},
		{Name: "unexpected eof", Ctx: ctx, Err: fmt.Errorf("read: %w", io.ErrUnexpectedEOF), Is: []error{drivers.ErrUnavailable}},
		{Name: "refused", Ctx: ctx, Err: refused, Is: []error{drivers.ErrUnavailable, syscall.ECONNREFUSED}},
		{Name: "reset", Ctx: ctx, Err: reset, Is: []error{drivers.ErrUnavailable}},
		{Name: "pool closed", Ctx: ctx, Err: goredis.ErrClosed, Is: []error{drivers.ErrUnavailable}},
		{Name: "pool timeout", Ctx: ctx, Err: goredis.ErrPoolTimeout, Is: []error{drivers.ErrUnavailable}},
		{Name: "no route", Ctx: ctx, Err: fmt.Errorf("redis: dial x: %w (%w)", errNoRoute, drivers.ErrUnavailable), Is: []error{drivers.ErrUnavailable}},
		{Name: "deadline", Ctx: expired, Err: context.DeadlineExceeded, Is: []error{context.DeadlineExceeded}, Not: []error{drivers.ErrUnavailable}},
		{Name: "eof after deadline", Ctx: expired, Err: io.EOF, Is: []error{context.DeadlineExceeded}, Not: []error{drivers.ErrUnavailable}},
		{Name: "i/o timeout", Ctx: ctx, Err: &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, Is: []error{context.DeadlineExceeded}, Not: []error{drivers.ErrUnavailable}},
		{Name: "canceled", Ctx: canceled, Err: context.Canceled, Is: []error{context.Canceled}, Not: []error{drivers.ErrUnavailable, context.DeadlineExceeded}},
		{Name: "wrong type", Ctx: ctx, Err: fakeRedisErr("WRONGTYPE Operation against a key holding the wrong kind of value"), Not: []error{drivers.ErrUnavailable, context.DeadlineExceeded}},
		{Name: "err", Ctx: ctx, Err: fakeRedisErr("ERR unknown command"), Not: []error{drivers.ErrUnavailable}},
	}
	drivertest.CheckErrorMapping(t, mapError, tests)
	if mapError(ctx, "get", nil) != nil {
		t.Error("nil error mapped to non-nil")
	}
}

// fakeNode is a minimal Redis Cluster node: CLUSTER SLOTS says every slot
// is served by owner (an internal address); GET/SET/DEL of a key either
// work on its own map or answer MOVED to moveTo.
type fakeNode struct {
	ln     net.Listener
	owner  string // internal address of the slot owner
	moveTo string // when set, key commands answer MOVED to it
	mu     sync.Mutex
	data   map[string]string
	cmds   []string
	down   string // when set, key commands answer this error
}

func newFakeNode(t *testing.T) *fakeNode {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{ln: ln, data: map[string]string{}}
	go f.serve()
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *fakeNode) addr() string { return f.ln.Addr().String() }

func (f *fakeNode) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c)
	}
}

func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	args := make([]string, n)
	for i := range args {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, _ := strconv.Atoi(strings.TrimSpace(l[1:]))
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

func (f *fakeNode) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.Join(args[:min(2, len(args))], " "))
		f.mu.Lock()
		f.cmds = append(f.cmds, cmd)
		moveTo, down := f.moveTo, f.down
		f.mu.Unlock()
		var reply string
		switch {
		case cmd == "PING":
			reply = "+PONG\r\n"
		case cmd == "CLUSTER SLOTS":
			host, port, _ := net.SplitHostPort(f.owner)
			p, _ := strconv.Atoi(port)
			reply = fmt.Sprintf("*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n%s:%d\r\n%s", bulk(host), p, bulk("id-owner"))
		case strings.HasPrefix(cmd, "GET") || strings.HasPrefix(cmd, "SET") || strings.HasPrefix(cmd, "DEL"):
			switch {
			case down != "":
				reply = "-" + down + "\r\n"
			case moveTo != "":
				reply = fmt.Sprintf("-MOVED %d %s\r\n", keySlot(args[1]), moveTo)
			default:
				f.mu.Lock()
				switch strings.ToUpper(args[0]) {
				case "GET":
					if v, ok := f.data[args[1]]; ok {
						reply = bulk(v)
					} else {
						reply = "$-1\r\n"
					}
				case "SET":
					f.data[args[1]] = args[2]
					reply = "+OK\r\n"
				case "DEL":
					_, ok := f.data[args[1]]
					delete(f.data, args[1])
					reply = ":" + map[bool]string{true: "1", false: "0"}[ok] + "\r\n"
				}
				f.mu.Unlock()
			}
		default:
			reply = "-ERR unknown command '" + args[0] + "'\r\n"
		}
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
	}
}

// TestClientRedirects: the seed (a published address) says the slots are
// at a run-network address, which redirects to another run-network
// address; the client reaches both through the mapping only.
func TestClientRedirects(t *testing.T) {
	a, b := newFakeNode(t), newFakeNode(t)
	internal := map[string]string{"172.20.0.2:6379": a.addr(), "172.20.0.3:6379": b.addr()}
	var mu sync.Mutex
	var asked []string
	m := func(addr string) (string, bool) {
		mu.Lock()
		asked = append(asked, addr)
		mu.Unlock()
		v, ok := internal[addr]
		return v, ok
	}
	a.owner, b.owner = "172.20.0.2:6379", "172.20.0.3:6379"
	a.moveTo = "172.20.0.3:6379"
	cli := newClient([]string{a.addr()}, m, nil)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	if _, err := cli.Get(ctx, "k"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	v := []byte("hello")
	if err := cli.Put(ctx, "k", v); err != nil {
		t.Fatalf("put: %v", err)
	}
	v[0] = 'x'
	got, err := cli.Get(ctx, "k")
	if err != nil || string(got) != "hello" {
		t.Fatalf("get = %q, %v", got, err)
	}
	if err := cli.Delete(ctx, "k"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	b.mu.Lock()
	data := len(b.data)
	b.mu.Unlock()
	if data != 0 {
		t.Errorf("b holds %d keys after the delete", data)
	}
	mu.Lock()
	sawB := strings.Contains(fmt.Sprint(asked), "172.20.0.3:6379")
	mu.Unlock()
	if !sawB {
		t.Errorf("the redirect target was never mapped: %v", asked)
	}

	// Errors of the node: classified, and the client stays usable.
	b.mu.Lock()
	b.down = "CLUSTERDOWN The cluster is down"
	b.mu.Unlock()
	t0 := time.Now()
	if err := cli.Put(ctx, "k", v); !errors.Is(err, drivers.ErrUnavailable) {
		t.Errorf("put to a node that is down: %v", err)
	}
	t.Logf("a CLUSTERDOWN operation failed after %s (go-redis retries)", time.Since(t0).Round(time.Millisecond))
	if time.Since(t0) > 500*time.Millisecond {
		t.Errorf("CLUSTERDOWN took %s to fail", time.Since(t0))
	}
	b.mu.Lock()
	b.down = ""
	b.mu.Unlock()

	// A redirect to a node without a published port: unavailable, fast.
	a.mu.Lock()
	a.moveTo = "172.20.0.9:6379"
	a.mu.Unlock()
	b.mu.Lock()
	b.moveTo = "172.20.0.9:6379"
	b.mu.Unlock()
	t0 = time.Now()
	if _, err := cli.Get(ctx, "k2"); !errors.Is(err, drivers.ErrUnavailable) || !errors.Is(err, errNoRoute) {
		t.Errorf("get redirected to an unknown node: %v", err)
	}
	if time.Since(t0) > time.Second {
		t.Errorf("redirect to an unknown node took %s", time.Since(t0))
	}

	// The caller's deadline.
	exp, cancelExp := context.WithTimeout(ctx, time.Nanosecond)
	defer cancelExp()
	time.Sleep(time.Millisecond)
	if err := cli.Put(exp, "k", v); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("put with an expired ctx: %v", err)
	}
	if err := cli.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := cli.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := cli.Put(ctx, "k", v); !errors.Is(err, drivers.ErrUnavailable) {
		t.Errorf("put on a closed client: %v", err)
	}
}
