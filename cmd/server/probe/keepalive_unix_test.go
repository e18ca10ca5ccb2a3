//go:build linux || darwin || freebsd

package probe

import (
	"context"
	"net"
	"syscall"
	"testing"
)

// TestKeepAliveOff checks that probe sockets have SO_KEEPALIVE off: with
// it on, the operating system would keep the device's idle timer fresh.
func TestKeepAliveOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tg, _ := ParseTarget("tcp://" + ln.Addr().String())
	c, err := (&socketOpener{target: tg, clock: systemClock{}}).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*streamConn).c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var serr error
	if err := raw.Control(func(fd uintptr) { on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if on != 0 {
		t.Errorf("SO_KEEPALIVE = %d on a probe socket, want 0", on)
	}
	// The default dialer turns it on: the check above would catch a regression.
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	raw, _ = d.(*net.TCPConn).SyscallConn()
	raw.Control(func(fd uintptr) { on, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if on == 0 {
		t.Log("the default dialer left keep-alive off too; the check above proves less")
	}
}
