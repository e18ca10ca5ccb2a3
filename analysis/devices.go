package analysis

import (
	"cmp"
	"math"
	"slices"
)

// Device is a default idle timeout of a device that may sit between
// Outlook and Exchange (DOMAIN.md §2).
type Device struct {
	Name    string
	Setting string
	Seconds float64
	// Expiry is what the device does at its default: "reset" (sends RST),
	// "silent" (drops the flow) or "" (not documented).
	Expiry string
}

// Devices is the DOMAIN.md §2 table. Devices without a finite default
// (HAProxy unset, Windows NLB, Zscaler ZIA) are left out, except for the
// value common sample configurations use.
var Devices = []Device{
	{"F5 BIG-IP LTM", "TCP/FastL4 profile idle-timeout", 300, "reset"},
	{"Citrix NetScaler / ADC", "HTTP/SSL vserver cltTimeout", 180, ""},
	{"Citrix NetScaler / ADC", "TCP vserver cltTimeout", 9000, ""},
	{"Cisco ASA", "timeout conn", 3600, ""},
	{"Palo Alto PAN-OS", "session TCP timeout", 3600, ""},
	{"Fortinet FortiGate", "system session-ttl default", 3600, ""},
	{"Check Point", "TCP session timeout", 3600, ""},
	{"Kemp LoadMaster", "Connection Timeout / Idle Connection Timeout", 660, ""},
	{"HAProxy", "timeout client/server (common sample config)", 60, ""},
	{"NGINX (http)", "proxy_read_timeout", 60, ""},
	{"NGINX (stream)", "proxy_timeout", 600, ""},
	{"Azure Load Balancer", "idleTimeoutInMinutes", 240, "silent"},
	{"AWS Classic ELB", "ConnectionSettings.IdleTimeout", 60, ""},
	{"AWS ALB", "idle_timeout.timeout_seconds", 60, ""},
	{"AWS NLB", "tcp.idle_timeout.seconds", 350, ""},
	{"AWS Network Firewall", "TcpIdleTimeoutSeconds", 350, "silent"},
	{"Oracle OCI NLB", "TCP listener idle timeout", 360, ""},
	{"ISA/TMG 2010 SP2", "KeepAliveTime set by TMG", 300, ""},
	{"Squid", "read_timeout", 900, ""},
	{"Squid", "client_idle_pconn_timeout", 120, ""},
	{"Microsoft BPOS load balancer", "inactivity timeout", 3600, ""},
	{"Home/Internet gateway", "NAT binding timeout", 300, ""},
}

// MatchDevices returns the devices whose default is within tol (relative)
// of seconds, nearest first.
func MatchDevices(seconds, tol float64) []Match {
	type cand struct {
		d    Device
		dist float64
	}
	var cs []cand
	for _, d := range Devices {
		dist := math.Abs(seconds-d.Seconds) / d.Seconds
		if dist <= tol {
			cs = append(cs, cand{d, dist})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(a.dist, b.dist) })
	out := []Match{}
	for _, c := range cs {
		out = append(out, Match{Device: c.d.Name, Setting: c.d.Setting, DefaultSeconds: c.d.Seconds})
	}
	return out
}

// devicesBelow returns the devices whose default is below bound and that
// do not reset at expiry (a resetting device would show at its own
// timeout, not at Outlook's keep-alive): the candidates of a silent drop.
// Devices known to drop silently come first, then the largest defaults.
func devicesBelow(bound float64) []Match {
	var ds []Device
	for _, d := range Devices {
		if d.Seconds < bound && d.Expiry != "reset" {
			ds = append(ds, d)
		}
	}
	slices.SortStableFunc(ds, func(a, b Device) int {
		as, bs := a.Expiry == "silent", b.Expiry == "silent"
		if as != bs {
			if as {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Seconds, a.Seconds)
	})
	out := []Match{}
	for _, d := range ds {
		out = append(out, Match{Device: d.Name, Setting: d.Setting, DefaultSeconds: d.Seconds})
	}
	return out
}
