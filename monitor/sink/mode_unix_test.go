//go:build unix

package sink_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

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
