package main

import (
	"os"
	"strings"
	"testing"
)

// TestMemoryLimitFlag: -memory-limit takes a size or off; nonsense and
// limits too small to run in are refused with the flag's name.
func TestMemoryLimitFlag(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "512MiB": 512 << 20, "off": 0, "": 0} {
		c := memoryConfig{limit: in}
		if err := c.validate(); err != nil || c.limitB != want {
			t.Errorf("-memory-limit %q = %d, %v; want %d", in, c.limitB, err, want)
		}
	}
	for _, bad := range []string{"lots", "-1GiB", "1MiB"} {
		c := memoryConfig{limit: bad}
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "-memory-limit") {
			t.Errorf("-memory-limit %q: %v", bad, err)
		}
	}
	for _, k := range []string{"GOMEMLIMIT", "IDLETRACE_MEMORY_LIMIT"} {
		t.Setenv(k, "") // restored at cleanup
		os.Unsetenv(k)
	}
	c, err := parseServeFlags(nil, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if c.memory.limitB != 900<<20 {
		t.Errorf("default limit %d, want 900 MiB", c.memory.limitB)
	}
	t.Setenv("GOMEMLIMIT", "3GiB") // the runtime's own setting stands
	if c, err = parseServeFlags(nil, &strings.Builder{}); err != nil || c.memory.limitB != 0 {
		t.Errorf("with GOMEMLIMIT set: limit %d, %v; want the runtime's (0 here)", c.memory.limitB, err)
	}
}
