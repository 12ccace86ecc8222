package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a datagram socket standing in for systemd's: $NOTIFY_SOCKET
// names it, and it collects every message the daemon sends.
type notifySocket struct {
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
	done chan struct{}
	log  *syncBuffer // if set, snapshotted at READY=1
	// atReady is the daemon's log when the first READY=1 arrived.
	atReady []map[string]any
}

func listenNotify(t *testing.T, log *syncBuffer) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	n := &notifySocket{conn: conn, done: make(chan struct{}), log: log}
	go func() {
		defer close(n.done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			msg := string(buf[:k])
			// The ready callback runs synchronously in the daemon, so the log
			// now holds everything that happened before READY=1.
			if strings.HasPrefix(msg, "READY=1") && n.log != nil && n.atReady == nil {
				lines := n.log.lines(t)
				n.mu.Lock()
				n.atReady = lines
				n.mu.Unlock()
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, msg)
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-n.done })
	return n
}

func (n *notifySocket) messages() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.msgs)
}

func (n *notifySocket) count(prefix string) int {
	c := 0
	for _, m := range n.messages() {
		if strings.HasPrefix(m, prefix) {
			c++
		}
	}
	return c
}

// stopAndDrain closes the socket once the last message is in: a STOPPING=1, or
// a short quiet time.
func (n *notifySocket) stopAndDrain(t *testing.T) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n.count("STOPPING=1") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n.conn.Close()
	<-n.done
	return n.messages()
}

// inProcess is the daemon running in-process on a config file.
type inProcess struct {
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func runInProcess(t *testing.T, cfg string, out *syncBuffer) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &inProcess{out: out, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, []string{"run", "--config", cfg}, out, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(time.Minute):
		}
	})
	return r
}

// waitFor polls until cond holds, failing the test if the daemon exits or 30 s pass.
func (r *inProcess) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("daemon exited while waiting for %s: %v\nlog:\n%s", what, err, r.out.buf.String())
		case <-deadline:
			t.Fatalf("timed out waiting for %s; log:\n%s", what, r.out.buf.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *inProcess) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("run: %v", err)
	}
	r.done <- nil
}

// linesAfter returns the log lines with message msg after the first line with
// message mark at or after line from (-1 when there is no mark), and mark's index.
func linesAfter(lines []map[string]any, from int, mark, msg string) ([]map[string]any, int) {
	at := -1
	for i := from; i < len(lines); i++ {
		if lines[i]["msg"] == mark {
			at = i
			break
		}
	}
	if at < 0 {
		return nil, -1
	}
	var out []map[string]any
	for _, l := range lines[at+1:] {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out, at
}

func serveTestFeed(t *testing.T) *httptest.Server {
	t.Helper()
	body := feed(time.Now(), 6)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/geo+json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestServiceNotify runs the daemon in-process under a stand-in for systemd's
// notify socket with a 2 s watchdog and checks the protocol: READY=1 with a
// status once the store is open and the first pass done, WATCHDOG=1 pings from
// the scheduler, STOPPING=1 at shutdown and nothing after it.
func TestServiceNotify(t *testing.T) {
	srv := serveTestFeed(t)
	dir := t.TempDir()
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
    rules: [{name: reports, type: count, min: 5, window: 6h, kinds: [police_presence]}]
`, filepath.Join(dir, "geowatch.gpkg"), srv.URL))

	out := &syncBuffer{}
	sock := listenNotify(t, out)
	t.Setenv("WATCHDOG_USEC", "2000000") // pings every second
	t.Setenv("WATCHDOG_PID", "")
	r := runInProcess(t, cfg, out)
	r.waitFor(t, "two watchdog pings", func() bool { return sock.count("WATCHDOG=1") >= 2 })
	r.stop(t)
	msgs := sock.stopAndDrain(t)
	t.Logf("notifications: %q", msgs)
	if len(msgs) < 4 {
		t.Fatalf("got messages %q, want READY=1, WATCHDOG=1 ×2, STOPPING=1", msgs)
	}
	wantReady := "READY=1\nSTATUS=1 source, 1 watch, 1 alert firing, last check feed "
	if !strings.HasPrefix(msgs[0], wantReady) {
		t.Errorf("first message = %q, want prefix %q", msgs[0], wantReady)
	}
	for _, m := range msgs[1 : len(msgs)-1] {
		if !strings.HasPrefix(m, "WATCHDOG=1\nSTATUS=1 source, 1 watch, 1 alert firing") {
			t.Errorf("message between READY and STOPPING = %q, want WATCHDOG=1 with the status", m)
		}
	}
	if last := msgs[len(msgs)-1]; last != "STOPPING=1\nSTATUS=stopping" {
		t.Errorf("last message = %q, want STOPPING=1", last)
	}

	// READY=1 came after the store opened and the first pass stored the feed
	// and evaluated the watch (its STATUS counts the alert firing); the alert
	// reaches the log subscriber on its own, by the stop at the latest.
	sock.mu.Lock()
	atReady := sock.atReady
	sock.mu.Unlock()
	for _, msg := range []string{"store open", "check done"} {
		if !slices.ContainsFunc(atReady, func(l map[string]any) bool { return l["msg"] == msg }) {
			t.Errorf("log at READY=1 lacks %q", msg)
		}
	}
	if len(out.find(t, "alert firing")) != 1 {
		t.Errorf("the log subscriber did not get the alert once")
	}
}

// TestServiceNoWatchdogWhenStoreFails removes the database from under a
// running daemon: the heartbeat must stop pinging and say why in the status.
func TestServiceNoWatchdogWhenStoreFails(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
watches:
  - {name: w, lat: 43.1, lon: 131.9, radius: 5km, schedule: "@every 1h", rules: [{type: count, min: 1, window: 1h}]}
`, db))
	out := &syncBuffer{}
	sock := listenNotify(t, out)
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", "")
	r := runInProcess(t, cfg, out)
	r.waitFor(t, "a watchdog ping", func() bool { return sock.count("WATCHDOG=1") >= 1 })
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "a failed health check", func() bool { return len(out.find(t, "health check failed; not pinging the watchdog")) > 0 })
	pings := sock.count("WATCHDOG=1")
	r.waitFor(t, "a second failed health check", func() bool {
		return len(out.find(t, "health check failed; not pinging the watchdog")) > 1
	})
	if got := sock.count("WATCHDOG=1"); got != pings {
		t.Errorf("WATCHDOG=1 sent %d times while the store failed", got-pings)
	}
	if sock.count("STATUS=store not answering: ") == 0 {
		t.Errorf("no status says the store is not answering: %q", sock.messages())
	}
	r.stop(t)
}

// TestReloadOnSIGHUP reloads a running daemon's config file on SIGHUP: an added
// watch and a removed source are applied, the unchanged watch keeps its firing
// alert without announcing it again, and an invalid file keeps the previous
// config running. systemd hears RELOADING=1 and READY=1 around each reload.
func TestReloadOnSIGHUP(t *testing.T) {
	srv := serveTestFeed(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "geowatch.yaml")
	head := fmt.Sprintf(`
database: %s
log: {level: debug}
sources:
  - {name: feed, type: geojson, url: %s/all_hour.geojson, schedule: "@every 1h"}
`, filepath.Join(dir, "geowatch.gpkg"), srv.URL)
	extra := fmt.Sprintf(`  - {name: extra, type: geojson, url: %s/other.geojson, schedule: "@every 1h"}
`, srv.URL)
	vlad := `watches:
  - name: vladivostok
    place: Vladivostok
    radius: 50km
    schedule: "@every 1s"
    rules: [{name: reports, type: count, min: 5, window: 6h, kinds: [police_presence]}]
`
	khasan := `  - name: khasan
    place: Khasan–Tumangang border crossing
    radius: 25km
    schedule: "@every 1s"
    rules: [{name: reports, type: count, min: 5, window: 6h}]
`
	writeFile(t, cfg, head+extra+vlad)

	out := &syncBuffer{}
	sock := listenNotify(t, nil)
	t.Setenv("WATCHDOG_USEC", "")
	r := runInProcess(t, cfg, out)
	firing := func() int { return len(out.find(t, "alert firing")) }
	// signal.Notify is registered before the scheduler starts: from then on
	// SIGHUP reaches the daemon instead of ending the test binary.
	r.waitFor(t, "scheduler started", func() bool { return len(out.find(t, "scheduler started")) > 0 })
	r.waitFor(t, "the alert", func() bool { return firing() == 1 })

	writeFile(t, cfg, head+vlad+khasan)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "config reloaded", func() bool { return len(out.find(t, "config reloaded")) > 0 })
	rl := out.find(t, "config reloaded")[0]
	if got, want := fmt.Sprint(rl["added"]), "[watch khasan]"; got != want {
		t.Errorf("reload added %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(rl["removed"]), "[source extra]"; got != want {
		t.Errorf("reload removed %s, want %s", got, want)
	}
	if got, want := rl["unchanged"], float64(2); got != want { // source feed, watch vladivostok
		t.Errorf("reload left %v unchanged, want %v", got, want)
	}
	evaluatedAfter := func(mark string, from int, watches ...string) func() bool {
		return func() bool {
			ev, _ := linesAfter(out.lines(t), from, mark, "evaluated")
			for _, w := range watches {
				if !slices.ContainsFunc(ev, func(l map[string]any) bool { return l["watch"] == w }) {
					return false
				}
			}
			return true
		}
	}
	r.waitFor(t, "evaluations after the reload", evaluatedAfter("config reloaded", 0, "vladivostok", "khasan"))

	writeFile(t, cfg, head+vlad+strings.Replace(khasan, "radius: 25km", "radius: 25 parsecs", 1))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	const failed = "reload failed, keeping previous config"
	r.waitFor(t, failed, func() bool { return len(out.find(t, failed)) > 0 })
	if e, _ := out.find(t, failed)[0]["error"].(string); !strings.Contains(e, "radius") {
		t.Errorf("reload failure says %q, want the bad field", e)
	}
	r.waitFor(t, "evaluations after the failed reload", evaluatedAfter(failed, 0, "vladivostok", "khasan"))
	r.stop(t)

	if n := firing(); n != 1 {
		t.Errorf("%d alert firing lines, want 1: reloads must not re-announce an unchanged watch's alert", n)
	}
	if n := len(out.find(t, "alert resolved")); n != 0 {
		t.Errorf("%d alert resolved lines, want 0", n)
	}
	if n := len(out.find(t, "config reloaded")); n != 1 {
		t.Errorf("%d config reloaded lines, want 1", n)
	}

	msgs := sock.stopAndDrain(t)
	var kinds []string
	for _, m := range msgs {
		k, _, _ := strings.Cut(m, "\n")
		if k == "READY=1" || k == "RELOADING=1" || k == "STOPPING=1" {
			kinds = append(kinds, k)
		}
	}
	want := []string{"READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"}
	if !slices.Equal(kinds, want) {
		t.Errorf("notifications %q, want %q; messages: %q", kinds, want, msgs)
	}
	for _, m := range msgs {
		if strings.HasPrefix(m, "RELOADING=1") && !strings.Contains(m, "\nMONOTONIC_USEC=") {
			t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", m)
		}
	}
	if !slices.ContainsFunc(msgs, func(m string) bool {
		return strings.HasPrefix(m, "READY=1\nSTATUS=1 source, 2 watches, 1 alert firing") && strings.Contains(m, "; reload failed ")
	}) {
		t.Errorf("no READY=1 status tells of the failed reload: %q", msgs)
	}
}

// TestReloadTruncated reloads a config cut short after its sources block: still
// valid YAML, it removes every watch and the subscribers. The reload warns and
// names the watches it removed, and the resolved event of the alert it ended
// reaches the subscriber that had the alert, before that subscriber is closed.
func TestReloadTruncated(t *testing.T) {
	srv := serveTestFeed(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "geowatch.yaml")
	alertsFile := filepath.Join(dir, "alerts.jsonl")
	head := fmt.Sprintf(`
database: %s
sources:
  - {name: feed, type: geojson, url: %s/all_hour.geojson, schedule: "@every 1h"}
`, filepath.Join(dir, "geowatch.gpkg"), srv.URL)
	writeFile(t, cfg, head+fmt.Sprintf(`watches:
  - name: vladivostok
    place: Vladivostok
    radius: 50km
    schedule: "@every 1h"
    rules: [{name: reports, type: count, min: 5, window: 6h, kinds: [police_presence]}]
subscribers:
  - {name: file, sink: file, path: %s}
`, alertsFile))
	out := &syncBuffer{}
	listenNotify(t, nil)
	t.Setenv("WATCHDOG_USEC", "")
	r := runInProcess(t, cfg, out)
	r.waitFor(t, "scheduler started", func() bool { return len(out.find(t, "scheduler started")) > 0 })
	r.waitFor(t, "the alert in the file", func() bool { return strings.Contains(readFile(t, alertsFile), `"alert firing"`) })

	writeFile(t, cfg, head) // cut after the sources block
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "config reloaded", func() bool { return len(out.find(t, "config reloaded")) > 0 })
	r.waitFor(t, "the resolved event in the file", func() bool { return strings.Contains(readFile(t, alertsFile), `"alert resolved"`) })
	r.stop(t)
	warn := out.find(t, "reload removed most watches; their alerts are resolved")
	if len(warn) != 1 || fmt.Sprint(warn[0]["removed_watches"]) != "[vladivostok]" || warn[0]["watches_after"] != 0.0 {
		t.Errorf("reload warnings = %v, want one naming vladivostok, 0 watches left", warn)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, alertsFile)), "\n")
	if len(lines) != 2 {
		t.Errorf("alerts file = %q, want the firing and the resolved event", lines)
	}
}
