//go:build unix

package systemd

import (
	"os"
	"strconv"
	"syscall"
)

// fileID is f's "device:inode", as $JOURNAL_STREAM writes them.
func fileID(f *os.File) (string, bool) {
	fi, err := f.Stat()
	if err != nil {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(uint64(st.Ino), 10), true //nolint:unconvert // Dev's type varies by platform
}
