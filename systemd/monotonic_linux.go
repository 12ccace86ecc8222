package systemd

import (
	"syscall"
	"unsafe"
)

// monotonicUsec reads CLOCK_MONOTONIC in microseconds, the clock systemd
// compares a RELOADING=1 message's MONOTONIC_USEC= against. The syscall package
// has no clock_gettime, and this package imports only the standard library.
func monotonicUsec() (int64, bool) {
	const clockMonotonic = 1 // CLOCK_MONOTONIC in <time.h>
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return ts.Nano() / 1e3, true
}
