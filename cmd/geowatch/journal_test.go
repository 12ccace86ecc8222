package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// journalEntry is one datagram of journald's native protocol, decoded.
type journalEntry map[string]string

// parseJournal decodes a native-protocol datagram: KEY=value lines, or KEY,
// newline, a little-endian uint64 length, the value and a newline for values
// with a newline in them.
func parseJournal(t *testing.T, b []byte) journalEntry {
	t.Helper()
	e := journalEntry{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			t.Fatalf("journal datagram: field without a newline: %q", b)
		}
		line := b[:nl]
		if k, v, ok := bytes.Cut(line, []byte("=")); ok {
			e[string(k)] = string(v)
			b = b[nl+1:]
			continue
		}
		b = b[nl+1:]
		if len(b) < 8 {
			t.Fatalf("journal datagram: binary field %s without its length", line)
		}
		n := binary.LittleEndian.Uint64(b)
		if uint64(len(b)-8) < n+1 {
			t.Fatalf("journal datagram: field %s shorter than %d", line, n)
		}
		e[string(line)] = string(b[8 : 8+n])
		b = b[8+n+1:]
	}
	return e
}

// journalSocket is a unix datagram socket standing in for journald's,
// collecting what arrives.
type journalSocket struct {
	mu      sync.Mutex
	entries []journalEntry
}

func listenJournal(t *testing.T, path string) *journalSocket {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	j := &journalSocket{}
	go func() {
		buf := make([]byte, 1<<20)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			e := parseJournal(t, append([]byte(nil), buf[:n]...))
			j.mu.Lock()
			j.entries = append(j.entries, e)
			j.mu.Unlock()
		}
	}()
	return j
}

// find returns the entries whose fields have the given values.
func (j *journalSocket) find(want map[string]string) []journalEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []journalEntry
next:
	for _, e := range j.entries {
		for k, v := range want {
			if e[k] != v {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// TestJournalFields runs the daemon binary as systemd would, stdout on the
// journal stream $JOURNAL_STREAM names, and a datagram socket standing in for
// journald's native one (go-systemd's socket path, overridden at link time as
// that library documents): the alert arrives with the fields the README's
// journalctl recipes filter on, the check and the reload with theirs, and
// none of them goes to stdout.
func TestJournalFields(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "journal.sock")
	j := listenJournal(t, sock)
	bin := filepath.Join(dir, "geowatch")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags=-X github.com/coreos/go-systemd/v22/journal.journalSocket="+sock, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	body := feed(time.Now(), 6)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/geo+json")
		w.Write(body) //nolint:errcheck // the test reads the outcome elsewhere
	}))
	defer srv.Close()
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
  - {name: feed, type: geojson, url: %s/all_hour.geojson, schedule: "@every 1h"}
watches:
  - name: vladivostok
    place: Vladivostok
    radius: 50km
    schedule: "@every 1h"
    rules:
      - {name: reports, type: count, min: 5, window: 6h, severity: critical, labels: {team: east}}
`, filepath.Join(dir, "geowatch.gpkg"), srv.URL))

	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	fi, err := stdout.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill() //nolint:errcheck // stuck
			<-exited
		}
		if t.Failed() {
			out, _ := os.ReadFile(stdout.Name())
			t.Logf("stdout:\n%s", out)
		}
	}()

	alert := map[string]string{"GEOWATCH_EVENT": "alert", "GEOWATCH_STATE": "firing", "GEOWATCH_WATCH": "vladivostok"}
	if err := waitFor(60*time.Second, func() bool { return len(j.find(alert)) > 0 }); err != nil {
		t.Fatalf("no alert firing entry in the journal: %v", err)
	}
	e := j.find(alert)[0]
	for k, want := range map[string]string{
		"PRIORITY": "2", "SYSLOG_IDENTIFIER": "geowatch", "GEOWATCH_RULE": "reports", "GEOWATCH_SEVERITY": "critical",
		"GEOWATCH_ALERT_ID": "1", "GEOWATCH_RULE_TYPE": "count", "GEOWATCH_COUNT": "6", "GEOWATCH_LABELS": `{"team":"east"}`,
		"GEOWATCH_LOGGER": "alerts", "MESSAGE": "alert firing: vladivostok/reports: 6 reports within 50km in 6h",
	} {
		if e[k] != want {
			t.Errorf("alert entry %s = %q, want %q\nentry: %v", k, e[k], want, e)
		}
	}
	for _, k := range []string{"GEOWATCH_TRANSITION_ID", "GEOWATCH_LAT", "GEOWATCH_LON", "GEOWATCH_STARTS_AT"} {
		if e[k] == "" {
			t.Errorf("alert entry lacks %s: %v", k, e)
		}
	}
	if c := j.find(map[string]string{"GEOWATCH_EVENT": "check", "GEOWATCH_SOURCE": "feed", "MESSAGE": "check done"}); len(c) != 1 || c[0]["PRIORITY"] != "6" || c[0]["GEOWATCH_ADDED"] != "8" {
		t.Errorf("check done entries %v, want one at priority 6 with GEOWATCH_ADDED=8", c)
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(30*time.Second, func() bool {
		return len(j.find(map[string]string{"GEOWATCH_EVENT": "reload", "MESSAGE": "config reloaded"})) > 0
	}); err != nil {
		t.Errorf("no config reloaded entry with GEOWATCH_EVENT=reload: %v", err)
	}
	out, _ := os.ReadFile(stdout.Name())
	if strings.Contains(string(out), "alert firing") {
		t.Errorf("the alert went to stdout too:\n%s", out)
	}
}
