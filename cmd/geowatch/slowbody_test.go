package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowBodies runs the built binary and opens GEOWATCH_SLOWBODY_CONNS
// connections (default 300) to the push endpoint, each claiming an 8 MiB body
// and sending a byte now and then. Bodies are read as they arrive and at most
// max_in_flight of them at once, so the daemon's RSS stays under 200 MB,
// /healthz answers throughout, the connections past the cap get 503 with
// Retry-After, those in flight 408 once body_timeout has passed, and a normal
// push is stored afterwards. Rate limiting is off: it would hide the cap
// (every connection comes from 127.0.0.1).
func TestSlowBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	conns := 300
	if s := os.Getenv("GEOWATCH_SLOWBODY_CONNS"); s != "" {
		var err error
		if conns, err = strconv.Atoi(s); err != nil || conns <= 0 {
			t.Fatalf("GEOWATCH_SLOWBODY_CONNS=%q: want a positive number", s)
		}
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfgPath, `database: `+filepath.Join(dir, "geowatch.gpkg")+`
http:
  listen: `+addr+`
  rate: 0
  body_timeout: 3s
sources:
  - name: field
    type: push
watches:
  - {name: vlad, lat: 43.1, lon: 131.9, radius: 50km, schedule: "@every 1h", rules: [{type: count, min: 1000000, window: 1h}]}
`)
	p := startBinary(t, bin, cfgPath, filepath.Join(dir, "daemon.log"))
	if err := p.waitReady(addr, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	pid := p.cmd.Process.Pid
	rssBefore := vmRSS(t, pid)

	// Every connection sends its headers and a first byte; the answers come
	// back on their own goroutines.
	codes := make(map[int]int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	open := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c)
		fmt.Fprintf(c, "POST /v1/observations HTTP/1.1\r\nHost: %s\r\nContent-Type: application/geo+json\r\nContent-Length: %d\r\n\r\n{", addr, 8<<20)
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(2 * time.Minute)) //nolint:errcheck // a bound on the test, not a measurement
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[0]++
				return
			}
			resp.Body.Close()
			if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
				codes[-503]++ // a 503 without Retry-After
				return
			}
			codes[resp.StatusCode]++
		})
	}
	// A byte more on each, as a slow sender would, then the measurements
	// while they are all open.
	for _, c := range open {
		c.Write([]byte(" ")) //nolint:errcheck // refused ones are closed by now
	}
	rssDuring := vmRSS(t, pid)
	health, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Errorf("/healthz during %d slow uploads: %v", conns, err)
	} else {
		health.Body.Close()
		if health.StatusCode != 200 {
			t.Errorf("/healthz during %d slow uploads = %d, want 200", conns, health.StatusCode)
		}
	}
	wg.Wait()
	rssAfter := vmRSS(t, pid)
	t.Logf("%d slow uploads claiming 8 MiB each: VmRSS %d MiB before, %d MiB with them open, %d MiB after; answers %v",
		conns, rssBefore>>20, rssDuring>>20, rssAfter>>20, codes)
	if rssDuring > 200<<20 || rssAfter > 200<<20 {
		t.Errorf("VmRSS %d MiB during, %d MiB after, want under 200 MiB", rssDuring>>20, rssAfter>>20)
	}
	inFlight := 32 // configs.DefaultMaxInFlight
	if codes[503] < conns-inFlight || codes[408] == 0 || codes[503]+codes[408] != conns {
		t.Errorf("answers %v, want %d or more 503 (with Retry-After) and the rest 408", codes, conns-inFlight)
	}

	client := &http.Client{Timeout: 30 * time.Second}
	if a := postPush(t, client, "http://"+addr, pushBody("after-slow", 3, 10)); a.code != 200 {
		t.Errorf("push after the slow uploads = %d %s, want 200", a.code, a.body)
	}
	if err := p.stop(30 * time.Second); err != nil {
		t.Error(err)
	}
}

// vmRSS reads a process's resident set size from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}
