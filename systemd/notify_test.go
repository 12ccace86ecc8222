package systemd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen binds a datagram socket like systemd's notify socket at name and
// points $NOTIFY_SOCKET at it.
func listen(t *testing.T, name, env string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", env)
	return conn
}

func recv(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifierSends(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn := listen(t, sock, sock)
	n := NewNotifier()
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}
	steps := []struct {
		name string
		send func() error
		want string
	}{
		{"ready", func() error { return n.Ready("running: 2 sources") }, "READY=1\nSTATUS=running: 2 sources"},
		{"status", func() error { return n.Status("3 sources") }, "STATUS=3 sources"},
		{"status one line", func() error { return n.Status("reload failed:\nline 3: bad\n") }, "STATUS=reload failed: line 3: bad"},
		{"watchdog", n.Watchdog, "WATCHDOG=1"},
		{"stopping", n.Stopping, "STOPPING=1\nSTATUS=stopping"},
	}
	for _, s := range steps {
		if err := s.send(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := recv(t, conn); got != s.want {
			t.Errorf("%s: got %q, want %q", s.name, got, s.want)
		}
	}
}

func TestNotifierReloading(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn := listen(t, sock, sock)
	if err := NewNotifier().Reloading("reloading"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(recv(t, conn), "\n")
	if len(lines) != 3 || lines[0] != "RELOADING=1" || lines[1] != "STATUS=reloading" {
		t.Fatalf("got %q, want RELOADING=1, STATUS=reloading, MONOTONIC_USEC=…", lines)
	}
	us, err := strconv.ParseInt(strings.TrimPrefix(lines[2], "MONOTONIC_USEC="), 10, 64)
	if !strings.HasPrefix(lines[2], "MONOTONIC_USEC=") || err != nil || us <= 0 {
		t.Errorf("got %q, want MONOTONIC_USEC=<positive µs>", lines[2])
	}
}

func TestNotifierAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("@geowatch-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	conn := listen(t, name, name) // Go maps a leading '@' to the abstract namespace, as systemd does
	if err := NewNotifier().Watchdog(); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, conn); got != "WATCHDOG=1" {
		t.Errorf("got %q, want WATCHDOG=1", got)
	}
}

func TestNotifierDisabled(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	var zero *Notifier
	for _, n := range []*Notifier{NewNotifier(), {}, zero} {
		if n.Enabled() {
			t.Errorf("Enabled() = true without NOTIFY_SOCKET")
		}
		if err := n.Ready("x"); err != nil {
			t.Errorf("Ready without a socket: %v", err)
		}
	}
}

func TestNotifierSocketGone(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
	if err := NewNotifier().Watchdog(); err == nil || !strings.HasPrefix(err.Error(), "systemd: notify: ") {
		t.Errorf("Watchdog() to a missing socket = %v, want a systemd: notify: error", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		name, usec, pid string
		want            time.Duration
	}{
		{"unset", "", "", 0},
		{"half of WATCHDOG_USEC", "2000000", "", time.Second},
		{"for this process", "120000000", self, time.Minute},
		{"for another process", "2000000", "1", 0},
		{"not a number", "2s", "", 0},
		{"zero", "0", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			if got := WatchdogInterval(); got != tc.want {
				t.Errorf("WatchdogInterval() with WATCHDOG_USEC=%q WATCHDOG_PID=%q = %v, want %v", tc.usec, tc.pid, got, tc.want)
			}
		})
	}
}
