// Command nodeserver is the test payload of package internal/docker: a tiny
// static server that the tests put in a FROM-scratch image.
//
//	nodeserver                 serve: TCP :7000 answers "<hostname>\n" on
//	                           connect; HTTP :8080 serves /health and
//	                           /dial?host=node2:7000[&timeout=1s]
//	nodeserver crash           print a few lines and exit 3 (readiness tests)
//	nodeserver exit CODE OUT ERR   write OUT to stdout, ERR to stderr, exit CODE
//	nodeserver sleep D         sleep D (exec deadline tests)
//
// It also serves the traffic of the shaping tests (traffic.go).
//
// SIGTERM makes the server print "nodeserver: terminated" and exit 0.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "crash":
			for i := 1; i <= 30; i++ {
				fmt.Printf("crash line %d\n", i)
			}
			// Docker copies stdout and stderr separately: only the order
			// within one stream is kept in the log.
			fmt.Fprintln(os.Stderr, "nodeserver: error: about to crash")
			fmt.Println("nodeserver: fatal: configured to crash")
			os.Exit(3)
		case "exit":
			if len(os.Args) != 5 {
				fmt.Fprintln(os.Stderr, "usage: nodeserver exit CODE STDOUT STDERR")
				os.Exit(2)
			}
			code, _ := strconv.Atoi(os.Args[2])
			fmt.Fprint(os.Stdout, os.Args[3])
			fmt.Fprint(os.Stderr, os.Args[4])
			os.Exit(code)
		case "sleep":
			d, err := time.ParseDuration(os.Args[2])
			if err != nil {
				os.Exit(2)
			}
			time.Sleep(d)
			return
		}
	}
	serve()
}

func serve() {
	host, _ := os.Hostname()
	fmt.Printf("nodeserver %s starting\n", host)
	ln, err := net.Listen("tcp", ":7000")
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeserver:", err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			fmt.Fprintf(c, "%s\n", host)
			c.Close()
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok %s\n", host)
	})
	mux.HandleFunc("/dial", func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("host")
		timeout := time.Second
		if t := r.URL.Query().Get("timeout"); t != "" {
			if d, err := time.ParseDuration(t); err == nil && d > 0 && d <= 10*time.Second {
				timeout = d
			}
		}
		res := struct {
			OK    bool   `json:"ok"`
			Reply string `json:"reply,omitempty"`
			Error string `json:"error,omitempty"`
		}{}
		if c, err := net.DialTimeout("tcp", target, timeout); err != nil {
			res.Error = err.Error()
		} else {
			c.SetDeadline(time.Now().Add(timeout))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil {
				res.Error = err.Error()
			} else {
				res.OK, res.Reply = true, strings.TrimSpace(line)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	})
	if err := traffic(mux); err != nil {
		fmt.Fprintln(os.Stderr, "nodeserver:", err)
		os.Exit(1)
	}
	go func() {
		err := http.ListenAndServe(":8080", mux)
		fmt.Fprintln(os.Stderr, "nodeserver:", err)
		os.Exit(1)
	}()
	fmt.Printf("nodeserver %s listening on :7000 and :8080\n", host)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	fmt.Println("nodeserver: terminated")
	os.Exit(0)
}
