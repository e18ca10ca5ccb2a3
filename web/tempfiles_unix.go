//go:build unix

package web

import (
	"os"
	"syscall"
)

// lockSpool marks f as in use for as long as it is open: a shared flock,
// released by the kernel when the process dies however it dies.
func lockSpool(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
}

// spoolIsStale reports whether no process holds the spooled file at p.
func spoolIsStale(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false // held by a live server
	}
	return true
}
