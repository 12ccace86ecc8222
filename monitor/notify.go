package monitor

import "context"

// Notifier delivers alert transitions to a subscriber: the process log, a JSON-lines
// file. Implementations live in monitor/sink.
type Notifier interface {
	// Name identifies the subscriber in logs and metrics.
	Name() string
	// Notify delivers one event. It must not block for long: the engine calls it
	// after the transition is persisted, and a failure is logged and retried on a
	// later evaluation, never lost.
	Notify(ctx context.Context, ev Event) error
}
