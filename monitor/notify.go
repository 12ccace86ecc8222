package monitor

import "context"

// Notifier delivers alert transitions to a subscriber: the process log, a JSON-lines
// file. Implementations live in monitor/sink.
type Notifier interface {
	// Name identifies the subscriber in logs and metrics.
	Name() string
	// Notify delivers one event. The subscriber's own courier calls it, in
	// transition order, after the transition is persisted; it may take as long
	// as its ctx allows (DeliveryTimeout) and delays no one but this subscriber.
	// A failure is logged and retried with backoff, never skipped.
	Notify(ctx context.Context, ev Event) error
}
