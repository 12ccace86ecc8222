//go:build !linux

package systemd

// monotonicUsec is Linux-only; elsewhere there is no systemd to tell.
func monotonicUsec() (int64, bool) { return 0, false }
