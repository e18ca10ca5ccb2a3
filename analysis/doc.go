// Package analysis finds the network device that kills idle Outlook →
// Exchange connections from Outlook events 25 (disconnected) and 26
// (restored). It is pure and deterministic: no I/O, and the same events in
// any order, with any duplicates, give the same result.
//
// The steps (SPEC §5, DOMAIN §4):
//
//  1. Group events by computer, case-insensitively (the most frequent
//     spelling is shown), drop exact duplicates (same event id and record
//     id, or a missing record id, within the same second), order by time.
//  2. Pair per computer: a 25 opens a disconnect, further 25s are repeats
//     (a 25 over RepeatGap after the last one leaves the disconnect open and
//     opens a new one), a 26 closes it; a 26 with nothing open starts an
//     uptime (a 26 within DuplicateWindow of the previous one is a
//     duplicate). Downtime = first 25 → 26; uptime = 26 → next 25, unknown
//     when the gap exceeds MaxUptime (the computer was off overnight).
//     Computers whose 25/26 interleave (several Outlook sessions: 26s that
//     close nothing) are flagged and kept out of the statistics.
//  3. Cluster uptimes (and, separately, downtimes) on a log-time axis by
//     density: each interval's density is the count within ±ClusterTolerance;
//     peaks grow while neighbours stay dense and stop at valleys; a cluster
//     must stand out from its flanks (see standsOut), have MinIntervals and
//     enough computers. A computer belongs to a cluster when at least
//     MinHostIntervals and a fifth of its own intervals fall in it.
//  4. Shared outages: disconnects no cluster explains, many computers in
//     one OutageWindow, far above the local background rate. Their pairs
//     are excluded and the clusters recomputed without them.
//  5. Diagnose each uptime cluster, split by site (computer-name prefix)
//     when several sites share it: a cluster whose onset lies a
//     retransmission delay (5–90 s) above an Outlook keep-alive (720/900 s)
//     and is spread over ≥ 8 s is a silent drop below that keep-alive;
//     otherwise the onset (2nd percentile: the lower envelope, since user
//     activity only lengthens uptimes) estimates the timeout of a resetting
//     device. Devices are matched from DOMAIN §2 within MatchTolerance.
//
// Diagnosis IDs derive from kind and value ("idle-timeout-900s",
// "idle-timeout-silent-720s", "shared-outage-20240306T1431Z"), with the
// site appended when two diagnoses share a value, so they stay stable as
// data grows. Confidence formulas are documented on timeoutConfidence and
// outageConfidence.
package analysis
