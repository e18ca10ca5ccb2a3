//go:build windows

package probe

import "syscall"

var resetErrnos = []error{syscall.ECONNRESET, syscall.ECONNABORTED, syscall.WSAECONNRESET, syscall.WSAECONNABORTED}
