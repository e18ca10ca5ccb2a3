package evtxtest

import (
	"os"
	"testing"
)

func newFileWriter(t testing.TB, path string) (*Writer, *os.File) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	return w, f
}

func tempPath(t testing.TB, name string) string {
	return t.TempDir() + string(os.PathSeparator) + name
}
