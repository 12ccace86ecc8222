package systemd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

type sent struct {
	msg  string
	pri  journal.Priority
	vars map[string]string
}

func TestJournalCore(t *testing.T) {
	var got []sent
	send := func(msg string, pri journal.Priority, vars map[string]string) error {
		got = append(got, sent{msg, pri, vars})
		return nil
	}
	log := zap.New(NewJournalCore(zapcore.InfoLevel, send, nil)).Named("alerts").With(zap.String("watch", "vladivostok"))
	log.Info("alert firing", zap.String("text", "vladivostok/gathering: 5 reports"), zap.String("rule", "gathering"),
		zap.String("state", "firing"), zap.String("severity", "warning"), zap.Int64("alert_id", 3),
		zap.Any("labels", map[string]string{"team": "east", "b": "x"}), zap.Float64("lat", 43.1155))
	log.Info("alert resolved", zap.String("state", "resolved"), zap.String("severity", "critical"))
	zap.New(NewJournalCore(zapcore.InfoLevel, send, nil)).Named("engine").Info("alert silenced", zap.String("state", "firing"), zap.Int64("silence_id", 2))
	log.Warn("check failed", zap.String("source", "usgs-hour"), zap.Error(errors.New("status 503")), zap.Duration("duration", 1500*time.Millisecond))
	log.Error("something else", zap.String("odd-key.name", "v"))
	log.Debug("not enabled")
	if len(got) != 5 {
		t.Fatalf("%d entries sent, want 5", len(got))
	}
	tests := []struct {
		i    int
		msg  string
		pri  journal.Priority
		vars map[string]string
	}{
		{0, "alert firing: vladivostok/gathering: 5 reports", journal.PriWarning, map[string]string{
			"GEOWATCH_EVENT": "alert", "GEOWATCH_WATCH": "vladivostok", "GEOWATCH_RULE": "gathering", "GEOWATCH_STATE": "firing",
			"GEOWATCH_ALERT_ID": "3", "GEOWATCH_LABELS": `{"b":"x","team":"east"}`, "GEOWATCH_LAT": "43.1155",
			"GEOWATCH_LOGGER": "alerts", "SYSLOG_IDENTIFIER": "geowatch"}},
		{1, "alert resolved", journal.PriNotice, map[string]string{"GEOWATCH_EVENT": "alert", "GEOWATCH_STATE": "resolved"}},
		{2, "alert silenced", journal.PriInfo, map[string]string{"GEOWATCH_EVENT": "transition", "GEOWATCH_STATE": "",
			"GEOWATCH_TRANSITION_STATE": "firing", "GEOWATCH_SILENCE_ID": "2"}},
		{3, "check failed", journal.PriWarning, map[string]string{"GEOWATCH_EVENT": "check", "GEOWATCH_SOURCE": "usgs-hour",
			"GEOWATCH_ERROR": "status 503", "GEOWATCH_DURATION": "1.5"}},
		{4, "something else", journal.PriErr, map[string]string{"GEOWATCH_EVENT": "log", "GEOWATCH_ODD_KEY_NAME": "v"}},
	}
	for _, tc := range tests {
		s := got[tc.i]
		if s.msg != tc.msg || s.pri != tc.pri {
			t.Errorf("entry %d: %q at %d, want %q at %d", tc.i, s.msg, s.pri, tc.msg, tc.pri)
		}
		for k, v := range tc.vars {
			if s.vars[k] != v {
				t.Errorf("entry %d: %s = %q, want %q (all: %v)", tc.i, k, s.vars[k], v, s.vars)
			}
		}
	}
}

// TestJournalCoreFallback: an entry the journal refuses goes to the fallback
// core, with the logger's fields.
func TestJournalCoreFallback(t *testing.T) {
	fallback, logs := observer.New(zapcore.InfoLevel)
	refuse := func(string, journal.Priority, map[string]string) error { return errors.New("no journal") }
	log := zap.New(NewJournalCore(zapcore.InfoLevel, refuse, fallback)).With(zap.String("watch", "w"))
	log.Info("check done", zap.Int("added", 2))
	if logs.Len() != 1 || logs.All()[0].ContextMap()["watch"] != "w" || logs.All()[0].ContextMap()["added"] != int64(2) {
		t.Errorf("fallback got %v, want the entry with its fields", logs.All())
	}
}

func TestJournalEvent(t *testing.T) {
	tests := []struct{ logger, msg, want string }{
		{"alerts", "alert firing", "alert"}, {"alerts", "alert resolved", "alert"},
		{"engine", "alert pending", "transition"}, {"engine", "alert silenced", "transition"},
		{"engine", "alert resolved", "transition"}, // a pending alert that ended: never announced
		{"engine", "alert notification failed; retrying", "notify"},
		{"", "check done", "check"}, {"", "check recovered", "check"}, {"", "record rejected", "check"},
		{"", "config reloaded", "reload"}, {"", "reload failed, keeping previous config", "reload"},
		{"", "silence expired", "silence"}, {"", "retention pruned", "retention"}, {"", "push ingest failed", "push"},
		{"", "scheduler started", "service"}, {"", "stopped", "service"}, {"", "hello", "log"},
	}
	for _, tc := range tests {
		if got := JournalEvent(tc.logger, tc.msg); got != tc.want {
			t.Errorf("JournalEvent(%q, %q) = %q, want %q", tc.logger, tc.msg, got, tc.want)
		}
	}
}

// TestIsJournalStream compares the file's device and inode with
// $JOURNAL_STREAM, as systemd.exec(5) says: set but naming another file (the
// output was redirected) is not the journal.
func TestIsJournalStream(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := fi.Sys().(*syscall.Stat_t)
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if !IsJournalStream(f) {
		t.Error("IsJournalStream = false for the file JOURNAL_STREAM names")
	}
	other, _ := os.Create(filepath.Join(t.TempDir(), "other"))
	defer other.Close()
	if IsJournalStream(other) || IsJournalStream(nil) {
		t.Error("IsJournalStream = true for another file")
	}
	t.Setenv("JOURNAL_STREAM", "")
	if IsJournalStream(f) {
		t.Error("IsJournalStream = true without JOURNAL_STREAM")
	}
}
