package monitor

import "time"

// Metrics receives what the engine and the scheduler do, for monitoring. The
// engine calls it synchronously, so implementations must be quick and safe for
// concurrent use; monitor/metrics exports them to Prometheus. NopMetrics is the
// default.
type Metrics interface {
	// Ingested reports a batch stored for source, pulled or pushed.
	Ingested(source string, res IngestResult)
	// CheckDone reports one run of a check that started at started and took d;
	// err is nil on success.
	CheckDone(source string, started time.Time, d time.Duration, err error)
	// RuleEvaluation is called as one rule of a watch starts evaluating; the
	// engine calls the returned func when the rule's alert is stepped. Timing
	// is left to the implementation so that the engine never reads the clock.
	RuleEvaluation(watch, rule string) (done func())
	// Transitioned reports a persisted alert transition; a is the alert after it.
	Transitioned(a Alert, t Transition)
	// Notified reports one delivery to a subscriber; err is nil on success.
	Notified(subscriber string, err error)
}

// NopMetrics discards everything.
type NopMetrics struct{}

func (NopMetrics) Ingested(string, IngestResult)                     {}
func (NopMetrics) CheckDone(string, time.Time, time.Duration, error) {}
func (NopMetrics) RuleEvaluation(string, string) func()              { return func() {} }
func (NopMetrics) Transitioned(Alert, Transition)                    {}
func (NopMetrics) Notified(string, error)                            {}
