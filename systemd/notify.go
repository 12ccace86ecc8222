// Package systemd speaks the service manager's sd_notify protocol (READY=1,
// STOPPING=1, STATUS=, WATCHDOG=1) over the datagram socket named by
// $NOTIFY_SOCKET, and ships geowatch's unit file. It imports only the standard
// library.
package systemd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends state updates to systemd. The zero value, and one made where
// $NOTIFY_SOCKET is unset, does nothing: the daemon runs the same outside systemd.
type Notifier struct {
	addr *net.UnixAddr
}

// NewNotifier returns a notifier for the socket in $NOTIFY_SOCKET (an absolute
// path, or an abstract socket written with a leading '@').
func NewNotifier() *Notifier {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return &Notifier{}
	}
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}
}

// Enabled reports whether there is a service manager to notify.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Send sends one notification message, such as "READY=1\nSTATUS=running".
func (n *Notifier) Send(state ...string) error {
	if !n.Enabled() {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("systemd: notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(state, "\n"))); err != nil {
		return fmt.Errorf("systemd: notify: %w", err)
	}
	return nil
}

// Ready tells systemd start-up is complete, with a status line.
func (n *Notifier) Ready(status string) error { return n.Send("READY=1", "STATUS="+status) }

// Stopping tells systemd the service is shutting down.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1", "STATUS=stopping") }

// Status updates the one-line status `systemctl status` shows.
func (n *Notifier) Status(status string) error { return n.Send("STATUS=" + status) }

// Watchdog pings systemd's watchdog.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// WatchdogInterval returns how often to ping the watchdog: half of
// $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; zero when the watchdog is off
// or meant for another process ($WATCHDOG_PID).
func WatchdogInterval() time.Duration {
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	return time.Duration(us) * time.Microsecond / 2
}
