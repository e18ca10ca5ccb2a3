package analysis

// SetSessPackLimit sets how many sessions pairRef.sess holds, for a test
// of the way without it; it returns the function that restores it.
func SetSessPackLimit(n int32) (restore func()) {
	old := sessPackLimit
	sessPackLimit = n
	return func() { sessPackLimit = old }
}
