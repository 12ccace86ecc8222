// Package systemd speaks the service manager's sd_notify protocol (READY=1,
// RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1) over the datagram socket named by
// $NOTIFY_SOCKET, writes the process log to journald with structured fields
// (JournalCore, over go-systemd's native-protocol client), and ships geowatch's
// unit file. It imports zap and go-systemd's journal package besides the
// standard library. The unit itself, install.sh and the sysusers.d file live
// beside it.
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
func (n *Notifier) Ready(status string) error { return n.Send("READY=1", "STATUS="+oneLine(status)) }

// Stopping tells systemd the service is shutting down.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1", "STATUS=stopping") }

// Reloading tells systemd a configuration reload has begun; Ready ends it.
// MONOTONIC_USEC= dates the message, as sd_notify(3) asks of RELOADING=1.
func (n *Notifier) Reloading(status string) error {
	msg := []string{"RELOADING=1", "STATUS=" + oneLine(status)}
	if us, ok := monotonicUsec(); ok {
		msg = append(msg, "MONOTONIC_USEC="+strconv.FormatInt(us, 10))
	}
	return n.Send(msg...)
}

// Status updates the one-line status `systemctl status` shows.
func (n *Notifier) Status(status string) error { return n.Send("STATUS=" + oneLine(status)) }

// Watchdog pings systemd's watchdog.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// oneLine keeps a status to one line: a newline would end the field, and the
// rest of an error message would be read as another assignment.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

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
