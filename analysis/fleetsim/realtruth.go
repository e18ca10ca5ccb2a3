package fleetsim

import (
	"slices"
	"time"

	"idletrace/analysis"
)

// Thresholds of the realistic truth (issue 11).
const (
	// MinSharpPerComputer is how many sharp uptimes a computer needs to be
	// expected in its device's diagnosis.
	MinSharpPerComputer = 2
	// MinSharpPerDevice is how many sharp uptimes a device's expected
	// computers need together for the device to be diagnosed.
	MinSharpPerDevice = 6
	// MinDeviceComputers is how many expected computers a device needs
	// (fewer when the fleet has fewer computers with measurable uptimes).
	MinDeviceComputers = 3
	// MinOutageComputers is how many computers must log a 25 for an
	// outage for it to be required (with fewer it is tolerated).
	MinOutageComputers = 5
	// MaxMeasurableUptime is the longest uptime the analysis measures.
	MaxMeasurableUptime = 10 * time.Hour
)

// HostTruth is how one computer of a realistic fleet was simulated.
type HostTruth struct {
	Name         string // FQDN, as the truth names it
	Site         string // site prefix
	Laptop       bool
	LeftRunning  bool // Outlook runs day and night
	Roaming      bool // works from home on HomeWeekdays
	HomeWeekdays []time.Weekday
	// ClockOffset is logged − true time.
	ClockOffset time.Duration
	// RetainedHours is how many hours the rolled-over log keeps (0: all);
	// Dropped how many events it lost.
	RetainedHours float64
	Dropped       int
	// ShortNames are the short spellings some events are logged under.
	ShortNames []string
	// Uptimes are the measurable uptimes of the retained log (a 26 … 25
	// with nothing between, at most MaxMeasurableUptime).
	Uptimes []Uptime
	// Outages are the indexes of the outages it logged a 25 for.
	Outages []int

	home [7]bool
}

// Uptime is one measurable uptime.
type Uptime struct {
	Seconds float64
	// Cause of the 25: "timeout", "random", "sleep", "outage", "anomaly".
	Cause string
	// Device the connection went through ("" when the 26 did not start
	// the connection the 25 ended, e.g. an injected orphan 26).
	Device string
	// Sharp: an idle-timeout uptime with no traffic after the reconnect
	// sync and (silent) noticed by the keep-alive.
	Sharp bool
	// At is the true time of the 25.
	At time.Time
}

// DeviceTruth is what the simulation produced behind one device.
type DeviceTruth struct {
	Name      string // site prefix, or "<prefix>@vpn"
	Site      string
	Device    Device
	Effective bool
	// Window is the range sharp uptimes lie in (seconds).
	Window [2]float64
	// Members are the computers whose connections can go through it.
	Members []string
	// TimeoutUptimes and Sharp count measurable idle-timeout uptimes and
	// the sharp ones among them, over all members.
	TimeoutUptimes, Sharp int
	// Expected, Gray and OneSharp sort the members by their sharp uptimes
	// (see Expected).
	Expected, Gray, OneSharp []string
	// ExpectedSharp is how many sharp uptimes the Expected computers hold.
	ExpectedSharp int
	// Diagnosed: the device is expected to be diagnosed.
	Diagnosed bool
}

// SharpShare is the share of measurable idle-timeout uptimes that are sharp
// (NaN without any).
func (d DeviceTruth) SharpShare() float64 {
	return float64(d.Sharp) / float64(d.TimeoutUptimes)
}

func deviceName(prefix string, path uint8) string {
	if path == pathVPN {
		return prefix + "@vpn"
	}
	return prefix
}

// measure lists the measurable uptimes and outage 25s of the retained log.
func (c *rclient) measure(t0 time.Time) {
	var prev *rev
	for i := range c.evs {
		e := &c.evs[i]
		if !e.outlook() {
			continue
		}
		if e.ev.EventID == 26 {
			if prev != nil && prev.ev.EventID == 26 && e.t-prev.t <= 2 {
				continue // a duplicate reconnect
			}
			prev = e
			continue
		}
		if e.outage >= 0 && !slices.Contains(c.host.Outages, int(e.outage)) {
			c.host.Outages = append(c.host.Outages, int(e.outage))
		}
		if prev != nil && prev.ev.EventID == 26 && e.t-prev.t <= MaxMeasurableUptime.Seconds() {
			u := Uptime{Seconds: e.t - prev.t, Cause: causeNames[e.cause], At: t0.Add(secs(e.t)).UTC()}
			if own := e.conn >= 0 && prev.conn == e.conn; own {
				u.Device = deviceName(c.site.Prefix, e.path)
				u.Sharp = e.sharp && e.cause == causeIdle
			}
			c.host.Uptimes = append(c.host.Uptimes, u)
		}
		prev = e
	}
}

// realisticTruth fills f.Truth from the simulated clients.
func realisticTruth(f *Fleet, clients []*rclient, t0 time.Time) {
	spec := f.Spec
	measurable := 0
	for _, c := range clients {
		if len(c.host.Uptimes) > 0 {
			measurable++
		}
	}
	syncMax := spec.Activity.SyncSeconds[1]
	for si := range spec.Sites {
		s := &spec.Sites[si]
		paths := []uint8{pathOffice}
		if s.Roaming != nil {
			paths = append(paths, pathVPN)
		}
		for _, p := range paths {
			dev := s.OfficeDevice()
			if p == pathVPN {
				dev = s.Roaming.VPN.withDefaults()
			}
			d := DeviceTruth{Name: deviceName(s.Prefix, p), Site: s.Prefix, Device: dev, Effective: dev.Effective()}
			if d.Effective {
				d.Window = dev.SharpWindow(syncMax)
			}
			for _, c := range clients {
				if c.siteIx != si || p == pathVPN && !c.host.Roaming {
					continue
				}
				d.Members = append(d.Members, c.host.Name)
				sharp, other := 0, 0
				for _, u := range c.host.Uptimes {
					mine := u.Device == d.Name
					switch {
					case mine && u.Sharp:
						sharp++
					case d.Effective && u.Seconds >= d.Window[0] && u.Seconds <= d.Window[1]:
						other++
					}
					if mine && u.Cause == "timeout" {
						d.TimeoutUptimes++
					}
				}
				d.Sharp += sharp
				switch {
				case sharp >= MinSharpPerComputer && sharp >= other:
					d.Expected = append(d.Expected, c.host.Name)
					d.ExpectedSharp += sharp
				case sharp >= MinSharpPerComputer:
					d.Gray = append(d.Gray, c.host.Name)
				case sharp == 1:
					d.OneSharp = append(d.OneSharp, c.host.Name)
				}
			}
			for _, l := range [][]string{d.Members, d.Expected, d.Gray, d.OneSharp} {
				slices.Sort(l)
			}
			d.Diagnosed = d.Effective && d.ExpectedSharp >= MinSharpPerDevice && len(d.Expected) >= min(MinDeviceComputers, measurable)
			f.Truth.Devices = append(f.Truth.Devices, d)
			if !d.Effective {
				continue
			}
			e := Expected{Kind: analysis.KindIdleTimeout, Site: s.Prefix, Device: d.Name, TimeoutSeconds: dev.TimeoutSeconds,
				ObservedSeconds: dev.Observed(), Drop: dev.Drop, Computers: d.Expected, Gray: d.Gray, OneSharp: d.OneSharp,
				SharpUptimes: d.ExpectedSharp}
			switch {
			case d.Diagnosed:
				f.Truth.Diagnoses = append(f.Truth.Diagnoses, e)
			case d.Sharp > 0:
				e.Computers = append(slices.Clone(d.Expected), d.Gray...)
				slices.Sort(e.Computers)
				f.Truth.Tolerated = append(f.Truth.Tolerated, e)
			}
		}
	}
	for oi, o := range spec.Outages {
		e := Expected{Kind: analysis.KindSharedOutage, Start: o.At.UTC(), End: o.At.Add(secs(o.Minutes * 60)).UTC()}
		for _, c := range clients {
			if slices.Contains(c.host.Outages, oi) {
				e.Computers = append(e.Computers, c.host.Name)
			}
		}
		slices.Sort(e.Computers)
		switch {
		case len(e.Computers) >= MinOutageComputers:
			f.Truth.Diagnoses = append(f.Truth.Diagnoses, e)
		case len(e.Computers) > 0:
			f.Truth.Tolerated = append(f.Truth.Tolerated, e)
		}
	}
	for _, c := range clients {
		f.Truth.Hosts = append(f.Truth.Hosts, c.host)
	}
	slices.SortFunc(f.Truth.Hosts, func(a, b HostTruth) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}

// Host returns the truth of the named computer (FQDN), nil if none.
func (t *Truth) Host(name string) *HostTruth {
	for i := range t.Hosts {
		if t.Hosts[i].Name == name {
			return &t.Hosts[i]
		}
	}
	return nil
}

// Device returns the truth of the named device, nil if none.
func (t *Truth) Device(name string) *DeviceTruth {
	for i := range t.Devices {
		if t.Devices[i].Name == name {
			return &t.Devices[i]
		}
	}
	return nil
}
