package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Traffic for the shaping tests:
//
//	TCP :7002   a sink: reads until EOF, answers "<bytes read>\n"
//	UDP :7001   counts datagrams; GET /udpcount answers {"count": N}
//	GET /send?host=node2:7002&bytes=N   sends N bytes to a sink, answers
//	            {"ok", "bytes", "seconds"} (dial to the sink's answer)
//	GET /udpsend?host=node2:7001&n=N&gap=1ms   sends N datagrams
func traffic(mux *http.ServeMux) error {
	var udpCount atomic.Int64
	pc, err := net.ListenPacket("udp", ":7001")
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			udpCount.Add(1)
		}
	}()
	ln, err := net.Listen("tcp", ":7002")
	if err != nil {
		return err
	}
	go sink(ln)
	mux.HandleFunc("/udpcount", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"count": udpCount.Load()})
	})
	mux.HandleFunc("/send", send)
	mux.HandleFunc("/udpsend", udpSend)
	return nil
}

func sink(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			n, _ := io.Copy(io.Discard, c)
			fmt.Fprintf(c, "%d\n", n)
		}()
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func send(w http.ResponseWriter, r *http.Request) {
	size, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
	if err != nil || size < 0 || size > 1<<30 {
		http.Error(w, "bad bytes", http.StatusBadRequest)
		return
	}
	t0 := time.Now()
	res := map[string]any{"ok": false}
	c, err := net.DialTimeout("tcp", r.URL.Query().Get("host"), 5*time.Second)
	if err != nil {
		res["error"] = err.Error()
		writeJSON(w, res)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(90 * time.Second))
	_, err = io.CopyN(c, zeros{}, size)
	if err == nil {
		err = c.(*net.TCPConn).CloseWrite()
	}
	var line string
	if err == nil {
		line, err = bufio.NewReader(c).ReadString('\n')
	}
	if err != nil {
		res["error"] = err.Error()
	} else {
		res["ok"] = true
		res["bytes"], _ = strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	}
	res["seconds"] = time.Since(t0).Seconds()
	writeJSON(w, res)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func udpSend(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	gap, err2 := time.ParseDuration(r.URL.Query().Get("gap"))
	if err != nil || err2 != nil || n < 0 || n > 100000 || gap < 0 || gap > time.Second {
		http.Error(w, "bad n or gap", http.StatusBadRequest)
		return
	}
	c, err := net.Dial("udp", r.URL.Query().Get("host"))
	if err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	defer c.Close()
	sent := 0
	for i := 0; i < n; i++ {
		if _, err := fmt.Fprintf(c, "datagram %d", i); err == nil {
			sent++
		}
		time.Sleep(gap)
	}
	writeJSON(w, map[string]any{"ok": true, "sent": sent})
}
