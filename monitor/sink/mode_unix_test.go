//go:build unix

package sink_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor/sink"
)

func TestFileMode(t *testing.T) {
	// The umask is per process: set the usual one so the result does not depend on
	// the shell the tests run from. Not parallel, for the same reason.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	f, err := sink.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o640 {
		t.Errorf("mode %v, want -rw-r-----", got)
	}
}

func TestRotatingFileMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	f, err := sink.OpenRotatingFile(path, sink.Rotation{MaxSizeMB: 1, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 8 {
		if err := f.Notify(t.Context(), bigEvent(int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	// lumberjack compresses backups in its own goroutine after a rotation.
	var gz []string
	for deadline := time.Now().Add(10 * time.Second); len(gz) == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		gz, _ = filepath.Glob(filepath.Join(dir, "*.gz"))
	}
	if len(gz) == 0 {
		t.Fatal("no compressed backup")
	}
	names, _ := filepath.Glob(filepath.Join(dir, "alerts*"))
	for _, name := range names {
		st, err := os.Stat(name)
		if err != nil {
			continue // a backup being compressed away
		}
		if got := st.Mode().Perm(); got != 0o640 {
			t.Errorf("%s: mode %v, want -rw-r-----", filepath.Base(name), got)
		}
	}
}
