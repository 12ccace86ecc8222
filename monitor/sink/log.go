package sink

import (
	"context"
	"fmt"

	"github.com/geowatch/geowatch/monitor"
	"go.uber.org/zap"
)

// Log announces alert events on a zap logger, one line each, at info level: an
// alert is the daemon's normal output, not a fault of the daemon.
type Log struct {
	l *zap.Logger
}

var _ monitor.Notifier = (*Log)(nil)

// NewLog returns a sink that writes to l.
func NewLog(l *zap.Logger) *Log { return &Log{l: l} }

// Name returns "log".
func (s *Log) Name() string { return "log" }

// Notify logs ev with its Message, its Text and its Fields. It fails only for an event with no
// message, which is a bug in the caller.
func (s *Log) Notify(_ context.Context, ev monitor.Event) error {
	msg, err := Message(ev)
	if err != nil {
		return fmt.Errorf("sink: log: %w", err)
	}
	// The stable message and fields, with a human reading first among them.
	s.l.Info(msg, append([]zap.Field{zap.String(KeyText, Text(ev))}, Fields(ev)...)...)
	return nil
}
