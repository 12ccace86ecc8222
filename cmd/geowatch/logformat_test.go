package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogFormats runs the default config as the README's first command does,
// with --log-format console into a file: readable lines (level, message,
// fields), no ANSI escapes, since a file is no terminal. Without the flag the
// default (auto) writes JSON wherever stdout is not a terminal, as under
// systemd; a bad format is a usage error.
func TestLogFormats(t *testing.T) {
	t.Chdir(t.TempDir())
	logPath := filepath.Join(t.TempDir(), "geowatch.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "--log-format", "console"}, f, f) }()
	deadline := time.Now().Add(30 * time.Second)
	var log []byte
	for !bytes.Contains(log, []byte("alert firing")) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		log, _ = os.ReadFile(logPath)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	log, _ = os.ReadFile(logPath)
	if bytes.Contains(log, []byte("\x1b[")) {
		t.Errorf("console log in a file has ANSI escapes:\n%q", log)
	}
	var firing string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "alert firing") {
			firing = l
			break
		}
	}
	if firing == "" || strings.HasPrefix(firing, "{") || !strings.Contains(firing, "\tINFO\t") || !strings.Contains(firing, `"watch": "`) {
		t.Errorf("alert line %q, want a console line: time, INFO, message, JSON fields\nlog:\n%s", firing, log)
	}

	var buf bytes.Buffer
	lg, err := newLogger(&buf, "info", "auto")
	if err != nil {
		t.Fatal(err)
	}
	lg.Info("hello")
	if !strings.HasPrefix(buf.String(), `{"level":"info"`) {
		t.Errorf("auto log off a terminal = %q, want JSON", buf.String())
	}
	var stderr bytes.Buffer
	if err := run(t.Context(), []string{"run", "--log-format", "pretty"}, &buf, &stderr); err == nil || exitCode(err) != 2 {
		t.Errorf("run --log-format pretty = %v, want a usage error", err)
	}
}
