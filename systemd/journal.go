package systemd

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap/zapcore"
)

// Journal fields every entry carries besides MESSAGE and PRIORITY.
const (
	// JournalIdentifier is SYSLOG_IDENTIFIER: journalctl -t geowatch.
	JournalIdentifier = "geowatch"
	// JournalPrefix begins the name of every field of geowatch's own: a log
	// line's field "watch" is GEOWATCH_WATCH, "alert_id" GEOWATCH_ALERT_ID.
	JournalPrefix = "GEOWATCH_"
	// JournalEventField is GEOWATCH_EVENT, what a line is about: alert,
	// transition, notify, check, reload, silence, retention, push, store,
	// http, service or log (see JournalEvent).
	JournalEventField = JournalPrefix + "EVENT"
	// AlertsLogger is the name of the logger the log subscriber (sink: log)
	// writes to: its "alert firing" and "alert resolved" lines are the
	// announced alerts, GEOWATCH_EVENT=alert.
	AlertsLogger = "alerts"
)

// JournalSend is journald's native protocol as go-systemd speaks it (to
// /run/systemd/journal/socket).
type JournalSend func(message string, priority journal.Priority, vars map[string]string) error

// JournalCore is a zapcore.Core that writes each entry to journald with
// structured fields: MESSAGE, PRIORITY (from the level; for an alert, from its
// severity), SYSLOG_IDENTIFIER, GEOWATCH_EVENT, GEOWATCH_LOGGER (the zap
// logger's name) and each zap field as GEOWATCH_<KEY> (upper-cased, any
// character but a letter, digit or _ as _): GEOWATCH_WATCH, GEOWATCH_RULE,
// GEOWATCH_STATE, GEOWATCH_ALERT_ID, GEOWATCH_TRANSITION_ID… (but the state
// of a transition never announced, GEOWATCH_EVENT=transition, is
// GEOWATCH_TRANSITION_STATE, so that GEOWATCH_STATE=firing matches only the
// alerts subscribers get). Strings are as
// logged, numbers in Go's shortest form, durations in seconds as in the JSON
// log, times RFC 3339, objects (labels, stats) JSON. MESSAGE is the log's
// message, followed by ": " and its text field when it has one (an alert's
// human reading).
//
// An entry the journal does not take goes to the fallback core instead
// (stdout, which systemd also sends to the journal), so nothing is lost.
type JournalCore struct {
	zapcore.LevelEnabler
	send     JournalSend
	fallback zapcore.Core
	fields   []zapcore.Field
}

var _ zapcore.Core = (*JournalCore)(nil)

// NewJournalCore returns a core writing entries at level and above to the
// journal with send (nil: go-systemd's journal.Send), falling back to
// fallback when that fails.
func NewJournalCore(level zapcore.LevelEnabler, send JournalSend, fallback zapcore.Core) *JournalCore {
	if send == nil {
		send = journal.Send
	}
	return &JournalCore{LevelEnabler: level, send: send, fallback: fallback}
}

// JournalAvailable reports whether journald's socket takes messages.
func JournalAvailable() bool { return journal.Enabled() }

// With returns a core that adds fields to every entry.
func (c *JournalCore) With(fields []zapcore.Field) zapcore.Core {
	d := *c
	d.fields = append(append([]zapcore.Field(nil), c.fields...), fields...)
	if c.fallback != nil {
		d.fallback = c.fallback.With(fields)
	}
	return &d
}

// Check adds the core to ce when the level is enabled.
func (c *JournalCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write sends one entry.
func (c *JournalCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	vars := make(map[string]string, len(enc.Fields)+4)
	for k, v := range enc.Fields {
		vars[JournalFieldName(k)] = journalValue(v)
	}
	vars["SYSLOG_IDENTIFIER"] = JournalIdentifier
	if _, ok := vars[JournalEventField]; !ok { // a field "event" names it itself
		vars[JournalEventField] = JournalEvent(e.LoggerName, e.Message)
	}
	// GEOWATCH_STATE=firing matches exactly what subscribers are sent: the
	// engine's lines about transitions never announced (pending, silenced)
	// carry their state under another name.
	if st, ok := vars[JournalPrefix+"STATE"]; ok && vars[JournalEventField] == "transition" {
		delete(vars, JournalPrefix+"STATE")
		vars[JournalPrefix+"TRANSITION_STATE"] = st
	}
	if e.LoggerName != "" {
		vars[JournalPrefix+"LOGGER"] = e.LoggerName
	}
	if e.Stack != "" {
		vars[JournalPrefix+"STACK"] = e.Stack
	}
	msg := e.Message
	if text, ok := enc.Fields["text"].(string); ok && text != "" {
		msg += ": " + text
	}
	err := c.send(msg, journalPriority(e.Level, vars), vars)
	if err != nil && c.fallback != nil {
		if ferr := c.fallback.Write(e, fields); ferr == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("systemd: journal: %w", err)
	}
	return nil
}

// Sync does nothing: every entry is one datagram, sent by Write.
func (c *JournalCore) Sync() error {
	if c.fallback != nil {
		return c.fallback.Sync()
	}
	return nil
}

// JournalFieldName is the journal field of a zap field key: GEOWATCH_ and the
// key upper-cased, with any character but A–Z, 0–9 and _ as _.
func JournalFieldName(key string) string {
	var b strings.Builder
	b.WriteString(JournalPrefix)
	for _, r := range strings.ToUpper(key) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// journalEvents maps log messages to GEOWATCH_EVENT, first match wins: exact
// messages, then prefixes ending in a space.
var journalEvents = []struct{ msg, event string }{
	{"alert notification ", "notify"}, {"alertmanager ", "notify"}, {"subscribers ", "notify"},
	{"save subscriber cursor", "notify"}, {"read subscriber cursor", "notify"}, {"read alert outbox", "notify"},
	{"mark transitions notified", "notify"},
	{"alert ", "transition"},
	{"check ", "check"}, {"record rejected", "check"}, {"records rejected", "check"}, {"rejects ", "check"},
	{"evaluation failed", "check"}, {"evaluated", "check"}, {"replay ", "check"}, {"the spooled ", "check"},
	{"config reloaded", "reload"}, {"reload ", "reload"},
	{"silence ", "silence"}, {"list silences", "silence"},
	{"retention ", "retention"},
	{"push ", "push"},
	{"store open", "store"}, {"wal ", "store"}, {"checkpoint failed", "store"}, {"truncating checkpoint failed", "store"},
	{"migration applied", "store"},
	{"http ", "http"},
	{"scheduler started", "service"}, {"stopping", "service"}, {"stopped", "service"}, {"ready again", "service"},
	{"not ready", "service"}, {"sd_notify failed", "service"}, {"health check failed", "service"},
	{"jobs still running", "service"}, {"running as root", "service"},
}

// JournalEvent is the GEOWATCH_EVENT of a log message: "alert" for the
// alerts the log subscriber announces (alert firing, alert resolved, on the
// AlertsLogger), "transition" for the other alert lines (the engine's alert
// pending, alert silenced, and alert resolved for a pending alert that ended:
// stored, never announced), "notify" for deliveries to subscribers, "check"
// for source checks and their records, "reload", "silence", "retention",
// "push", "store", "http", "service" (start, readiness, stop), and "log" for
// any other line.
func JournalEvent(logger, msg string) string {
	if logger == AlertsLogger && (msg == "alert firing" || msg == "alert resolved") {
		return "alert"
	}
	for _, e := range journalEvents {
		if msg == e.msg || strings.HasSuffix(e.msg, " ") && strings.HasPrefix(msg, e.msg) {
			return e.event
		}
	}
	// "check done", "check failed"… all begin with their event's name.
	for _, e := range journalEvents {
		if strings.HasPrefix(msg, e.msg) {
			return e.event
		}
	}
	return "log"
}

// journalPriority is syslog's priority for a level; for an alert transition
// it is the alert's severity instead: critical 2 (crit), warning 4, info 6,
// and 5 (notice) for a resolution.
func journalPriority(l zapcore.Level, vars map[string]string) journal.Priority {
	if vars[JournalEventField] == "alert" && l == zapcore.InfoLevel {
		switch {
		case vars[JournalPrefix+"STATE"] == "resolved":
			return journal.PriNotice
		case vars[JournalPrefix+"STATE"] != "firing":
		case vars[JournalPrefix+"SEVERITY"] == "critical":
			return journal.PriCrit
		case vars[JournalPrefix+"SEVERITY"] == "warning":
			return journal.PriWarning
		case vars[JournalPrefix+"SEVERITY"] == "info":
			return journal.PriInfo
		}
	}
	switch {
	case l <= zapcore.DebugLevel:
		return journal.PriDebug
	case l == zapcore.InfoLevel:
		return journal.PriInfo
	case l == zapcore.WarnLevel:
		return journal.PriWarning
	case l == zapcore.ErrorLevel:
		return journal.PriErr
	}
	return journal.PriCrit // DPanic, Panic, Fatal
}

// journalValue writes a field's value as the JSON log would, unquoted.
func journalValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Duration:
		return strconv.FormatFloat(x.Seconds(), 'g', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []string:
		return strings.Join(x, ",")
	case fmt.Stringer:
		return x.String()
	}
	data, err := json.Marshal(v) // objects (labels, stats): keys sorted
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// IsJournalStream reports whether f is the journal stream systemd connected
// the service's output to: $JOURNAL_STREAM holds its device and inode
// numbers, as systemd.exec(5) says, and a process whose output was redirected
// elsewhere (a pipe, a file) has other numbers while the variable stays set.
func IsJournalStream(f *os.File) bool {
	want := os.Getenv("JOURNAL_STREAM")
	if want == "" || f == nil {
		return false
	}
	id, ok := fileID(f)
	return ok && id == want
}
