// Package analysis finds the network device that kills idle Outlook →
// Exchange connections from Outlook events 25 (disconnected) and 26
// (restored). It is pure and deterministic: no I/O, and the same events in
// any order, with any duplicates, give the same result.
//
// The steps (SPEC §5, DOMAIN §4 and §7):
//
//  1. Group events by computer, case-insensitively; a short name that is
//     the host part of exactly one FQDN is that computer (one machine can
//     log under both); the FQDN, else the most frequent spelling, is shown.
//     Drop exact duplicates (same event id and record id, or a missing
//     record id, within the same second), order by time.
//  2. Pair per computer: a 25 opens a disconnect, further 25s are repeats
//     (a 25 over RepeatGap after the last one leaves the disconnect open and
//     opens a new one), a 26 closes it; a 26 with nothing open starts an
//     uptime (a 26 within DuplicateWindow of the previous one is a
//     duplicate). Downtime = first 25 → 26; uptime = 26 → next 25, unknown
//     when the gap exceeds MaxUptime (the computer was off overnight).
//     Each pair carries the computer's session (a working day: a gap of
//     SessionGap, or the computer's quietest hour) and weekday. Computers
//     whose 25/26 interleave (several Outlook sessions: 26s that close
//     nothing minutes after another, where a laptop's bare 26 on resume
//     follows a sleep) are flagged and kept out of the statistics.
//  3. Find peaks of uptimes (and, separately, downtimes) on a log-time axis:
//     windows of 0.5–16 % (at least 3.5 s) that stand out of both flanks
//     (background = the denser flank) by a ratio and a Poisson test; the
//     strongest first, a wide window giving way to a core that holds most
//     of its excess or to two peaks split by a valley (see findPeaks).
//  4. A computer belongs to a peak when its own repeats there stand out of
//     its own background (its intervals on the flanks): a Poisson test per
//     computer with the Benjamini–Hochberg rule over the fleet, or a clear
//     excess, and at least MinHostIntervals repeats — not a share of its
//     intervals (busy users and laptops have most lifetimes elsewhere).
//     A computer on two paths (office, home VPN) keeps each device's
//     repeats only from the sessions and weekdays where it shows most.
//     Those seen at the interval with too little evidence are listed as
//     also seen.
//  5. Shared outages: disconnects no regular cluster explains, many
//     computers in one OutageWindow, far above the local background rate;
//     or fewer that also came back together after a long downtime (the
//     joint test). An outage grows over skewed clocks to every disconnect
//     whose reconnect matches. Their pairs are excluded and the clusters'
//     computers recomputed without them.
//  6. Diagnose each regular uptime cluster (10th–90th percentile within
//     45 s or 6 %), split by site (computer-name prefix) when several sites
//     share it: a cluster whose bulk lies 8–48 s above an Outlook keep-alive
//     (720/900 s), with the first seconds above it nearly empty, is a
//     silent drop below that keep-alive; otherwise the onset (the leading
//     edge: user activity and late timers only lengthen uptimes) estimates
//     the timeout of a resetting device. Devices are matched from DOMAIN §2
//     within MatchTolerance; the confidence is explained in words.
//
// Diagnosis IDs derive from kind and value ("idle-timeout-900s",
// "idle-timeout-silent-720s", "shared-outage-20240306T1431Z"), with the
// site appended when two diagnoses share a value, so they stay stable as
// data grows. Confidence formulas are documented on timeoutConfidence and
// outageConfidence.
package analysis
