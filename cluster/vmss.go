package cluster

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/wire"
)

// VM snapshot schedules (xapi_vmss.ml). Every message first needs the VMSS licence
// feature. The schedule map is checked against xapi's small model of keys per
// frequency. There is no background scheduler: schedules run only through
// VMSS.snapshot_now, which stands in for dom0's vmss plugin.

// vmssKey is one key a schedule may hold: its check (answering the canonical value or
// false) and its default.
type vmssKey struct {
	name  string
	check func(string) (string, bool)
	def   string
}

var (
	vmssDays    = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	vmssMinutes = []string{"0", "15", "30", "45"}

	vmssMin  = vmssKey{"min", func(v string) (string, bool) { return enumValue(v, vmssMinutes) }, "0"}
	vmssHour = vmssKey{"hour", checkHour, "0"}
	vmssDay  = vmssKey{"days", nil, "Monday"} // a set, checked by checkDays

	// vmssFrequencyKeys are the keys each frequency uses; set_schedule and
	// add_to_schedule accept any of them whatever the frequency.
	vmssFrequencyKeys = map[string][]vmssKey{
		"hourly": {vmssMin},
		"daily":  {vmssHour, vmssMin},
		"weekly": {vmssHour, vmssMin, vmssDay},
	}
	vmssAnyKey = []vmssKey{vmssMin, vmssHour, vmssDay}
)

// vmssSnapshotOps is the VM operation each schedule type runs.
var vmssSnapshotOps = map[string]string{"snapshot": "snapshot", "checkpoint": "checkpoint", "snapshot_with_quiesce": "snapshot_with_quiesce"}

func (p *Sim) registerVMSS() {
	s := p.srv
	s.Handle("VMSS.snapshot_now", p.vmssSnapshotNow)
	s.Handle("VMSS.set_retained_snapshots", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(int64)
		return nil, p.updateVMSS(c.StringArg(0), func(_ *store.Tx, v *store.Object) error {
			xapi.Set(v, "retained_snapshots", value)
			return nil
		}, func() error {
			if value < 1 || value > 10 {
				return apierror.New(apierror.InvalidValue, "retained_snapshots", fmt.Sprint(value))
			}
			return nil
		})
	})
	s.Handle("VMSS.set_frequency", func(c *xapi.Call) (any, error) {
		value := c.StringArg(1)
		return nil, p.updateVMSS(c.StringArg(0), func(_ *store.Tx, v *store.Object) error {
			schedule, err := scheduleFor(value, xapi.StringMap(v, "schedule"))
			if err != nil {
				return err
			}
			xapi.Set(v, "frequency", value)
			xapi.Set(v, "schedule", schedule)
			return nil
		}, nil)
	})
	s.Handle("VMSS.set_schedule", func(c *xapi.Call) (any, error) {
		value := toStringMap(c.Arg(1).(map[string]any))
		return nil, p.updateVMSS(c.StringArg(0), func(_ *store.Tx, v *store.Object) error {
			schedule, err := checkSchedule(value, xapi.StringMap(v, "schedule"))
			if err != nil {
				return err
			}
			xapi.Set(v, "schedule", schedule)
			return nil
		}, nil)
	})
	s.Handle("VMSS.remove_from_schedule", func(c *xapi.Call) (any, error) {
		key := c.StringArg(1)
		return nil, p.updateVMSS(c.StringArg(0), func(_ *store.Tx, v *store.Object) error {
			// xapi keeps the whole schedule, process-wide, for the add_to_schedule that
			// xe's param-set sends next.
			p.mu.Lock()
			p.scheduleBackup = xapi.StringMap(v, "schedule")
			p.mu.Unlock()
			m := xapi.CopyMap(xapi.Map(v, "schedule"))
			delete(m, key)
			xapi.Set(v, "schedule", m)
			return nil
		}, nil)
	})
	s.Handle("VMSS.add_to_schedule", p.vmssAddToSchedule)
	s.Handle("VMSS.set_last_run_time", func(c *xapi.Call) (any, error) {
		value := c.Arg(1).(time.Time)
		return nil, p.updateVMSS(c.StringArg(0), func(_ *store.Tx, v *store.Object) error {
			xapi.Set(v, "last_run_time", value)
			return nil
		}, nil)
	})
	s.Handle("VMSS.set_type", func(c *xapi.Call) (any, error) {
		value := c.StringArg(1)
		return nil, p.updateVMSS(c.StringArg(0), func(tx *store.Tx, v *store.Object) error {
			if value == "snapshot_with_quiesce" {
				if err := licenceRestriction(tx, "restrict_vss", "VSS", false); err != nil {
					return err
				}
				for _, ref := range xapi.Refs(v, "VMs") {
					vm, err := xapi.GetObject(tx, "VM", ref)
					if err != nil {
						return err
					}
					if err := quiesceSnapshotError(tx, vm); err != nil {
						return err
					}
				}
			}
			xapi.Set(v, "type", value)
			return nil
		}, nil)
	})
}

// updateVMSS checks the licence, then pre (checks xapi makes before reading the
// schedule), then changes the schedule with fn.
func (p *Sim) updateVMSS(ref string, fn func(tx *store.Tx, v *store.Object) error, pre func() error) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		if err := licenceRestriction(tx, "restrict_vmss", "VMSS", false); err != nil {
			return err
		}
		if pre != nil {
			if err := pre(); err != nil {
				return err
			}
		}
		v, err := xapi.GetObject(tx, "VMSS", ref)
		if err != nil {
			return err
		}
		changed := v.Clone()
		if err := fn(tx, changed); err != nil {
			return err
		}
		tx.Put(changed)
		return nil
	})
	return err
}

// vmssAddToSchedule checks the key and value together with the rest of the schedule and
// stores the canonical value. When that fails, xapi puts back the key's value from the
// schedule the last remove_from_schedule saw (xe param-set removes, then adds), failing
// with Not_found when that schedule had no such key.
func (p *Sim) vmssAddToSchedule(c *xapi.Call) (any, error) {
	ref, key, value := c.StringArg(0), c.StringArg(1), c.StringArg(2)
	if err := licenceRestriction(p.srv.Store, "restrict_vmss", "VMSS", false); err != nil {
		return nil, err
	}
	err := p.addScheduleKey(ref, key, func(current map[string]string) (string, error) {
		checked, err := checkSchedule(map[string]string{key: value}, current)
		v, _ := checked[key].(string)
		return v, err
	})
	if err == nil {
		return nil, nil
	}
	p.mu.Lock()
	old, ok := p.scheduleBackup[key]
	p.mu.Unlock()
	if !ok {
		return nil, apierror.New(apierror.InternalError, "Not_found")
	}
	if restoreErr := p.addScheduleKey(ref, key, func(map[string]string) (string, error) { return old, nil }); restoreErr != nil {
		return nil, restoreErr
	}
	return nil, err
}

// addScheduleKey adds key to a schedule with the value fn answers: the database refuses a
// key that is there already.
func (p *Sim) addScheduleKey(ref, key string, fn func(current map[string]string) (string, error)) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		v, err := xapi.GetObject(tx, "VMSS", ref)
		if err != nil {
			return err
		}
		value, err := fn(xapi.StringMap(v, "schedule"))
		if err != nil {
			return err
		}
		m := xapi.CopyMap(xapi.Map(v, "schedule"))
		if _, dup := m[key]; dup {
			return apierror.New(apierror.MapDuplicateKey, "VMSS", "schedule", ref, key)
		}
		m[key] = value
		v = v.Clone()
		xapi.Set(v, "schedule", m)
		tx.Put(v)
		return nil
	})
	return err
}

// mergeSchedule is the new keys over the stored ones.
func mergeSchedule(value, db map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range db {
		out[k] = v
	}
	for k, v := range value {
		out[k] = v
	}
	return out
}

// checkSchedule is Map_check.assert_keys over every schedule key: the merged schedule's
// keys must all be known and their values valid; it answers the merged schedule with
// canonical values.
func checkSchedule(value, db map[string]string) (map[string]any, error) {
	merged := mergeSchedule(value, db)
	out := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		v, err := checkScheduleKey(vmssAnyKey, k, merged[k])
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// scheduleFor is Map_check.assert_all_keys for a frequency: the frequency's keys, from
// the schedule or defaulted, others dropped, each value checked.
func scheduleFor(frequency string, schedule map[string]string) (map[string]any, error) {
	out := map[string]any{}
	for _, k := range vmssFrequencyKeys[frequency] {
		v, ok := schedule[k.name]
		if !ok {
			v = k.def
		}
		checked, err := checkScheduleKey(vmssFrequencyKeys[frequency], k.name, v)
		if err != nil {
			return nil, err
		}
		out[k.name] = checked
	}
	return out, nil
}

// checkScheduleKey checks one key and value: INVALID_VALUE ["schedule:<key>", value] for
// an unknown key or a bad value.
func checkScheduleKey(keys []vmssKey, key, value string) (string, error) {
	bad := func(v string) error {
		field := "schedule"
		if key != "" {
			field += ":" + key
		}
		return apierror.New(apierror.InvalidValue, field, v)
	}
	for _, k := range keys {
		if k.name != key {
			continue
		}
		if k.name == "days" {
			return checkDays(value, bad)
		}
		if v, ok := k.check(value); ok {
			return v, nil
		}
		return "", bad(value)
	}
	return "", bad(value)
}

// checkDays checks a comma-separated set of week days, case-insensitively: an unknown
// day is reported alone, a repeated day with the whole value.
func checkDays(value string, bad func(string) error) (string, error) {
	parts := strings.Split(value, ",")
	acc := ""
	for i := len(parts) - 1; i >= 0; i-- {
		day, ok := enumValue(parts[i], vmssDays)
		switch {
		case !ok:
			return "", bad(parts[i])
		case acc == "":
			acc = day
		case strings.Contains(acc, day):
			return "", bad(value)
		default:
			acc = day + "," + acc
		}
	}
	return acc, nil
}

// enumValue is the member of values equal to v ignoring case.
func enumValue(v string, values []string) (string, bool) {
	for _, e := range values {
		if strings.EqualFold(v, e) {
			return e, true
		}
	}
	return "", false
}

// checkHour accepts what OCaml's int_of_string reads (sign, 0x/0o/0b prefixes,
// underscores) between 0 and 23, keeping the value as given.
func checkHour(v string) (string, bool) {
	n, err := wire.ParseInt64(v)
	return v, err == nil && n >= 0 && n <= 23
}

func toStringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

// vmssSnapshotNow runs a schedule at once, as dom0's vmss plugin does when xapi calls it:
// each VM of the schedule gets a snapshot of the schedule's type (marked
// is_vmss_snapshot), named "<VM name>-<UTC time as YYYYMMDD-hhmm>"; a VM that cannot be
// snapshotted gets a VMSS_SNAPSHOT_FAILED message and the others go on. Beyond
// retained_snapshots, a VM's oldest schedule snapshots are uninstalled with their
// disks. The schedule's last_run_time becomes now, and VMSS_SNAPSHOT_SUCCEEDED reports
// a run without failures. The plugin answers "SUCCESS" or "FAILED".
func (p *Sim) vmssSnapshotNow(c *xapi.Call) (any, error) {
	s := p.srv
	if err := licenceRestriction(s.Store, "restrict_vmss", "VMSS", false); err != nil {
		return nil, err
	}
	vmss, err := xapi.GetObject(s.Store, "VMSS", c.StringArg(0))
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now().UTC()
	op := vmssSnapshotOps[xapi.Str(vmss, "type")]
	retained := int(xapi.Int(vmss, "retained_snapshots"))
	var failed []string
	for _, ref := range xapi.Refs(vmss, "VMs") {
		vm := s.Store.Get("VM", ref)
		if vm == nil {
			continue
		}
		name := xapi.Str(vm, "name_label") + "-" + now.Format("20060102-1504")
		if _, err := p.snapshotVM(c, ref, op, name, nil, true); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", xapi.Str(vm, "name_label"), err))
			continue
		}
		if err := p.pruneVMSSSnapshots(ref, retained); err != nil {
			return nil, err
		}
	}
	_, err = s.Store.Update(func(tx *store.Tx) error {
		v := tx.Get("VMSS", vmss.Ref)
		if v == nil {
			return nil
		}
		v = v.Clone()
		xapi.Set(v, "last_run_time", now)
		tx.Put(v)
		alert := xapi.Alert{Name: "VMSS_SNAPSHOT_SUCCEEDED", Priority: xapi.PriorityInfo, Class: "VMSS", ObjUUID: xapi.Str(v, "uuid"),
			Body: fmt.Sprintf("Snapshot schedule '%s' ran", xapi.Str(v, "name_label"))}
		for _, f := range failed {
			alert.Name, alert.Priority, alert.Body = "VMSS_SNAPSHOT_FAILED", xapi.PriorityWarning, f
			tx.Put(s.NewMessage(alert))
		}
		if len(failed) == 0 {
			tx.Put(s.NewMessage(alert))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(failed) > 0 {
		return "FAILED", nil
	}
	return "SUCCESS", nil
}

// pruneVMSSSnapshots uninstalls a VM's oldest schedule snapshots beyond retained, with
// their disks (not CDs).
func (p *Sim) pruneVMSSSnapshots(vm string, retained int) error {
	_, err := p.srv.Store.Update(func(tx *store.Tx) error {
		o := tx.Get("VM", vm)
		if o == nil {
			return nil
		}
		var snaps []*store.Object
		for _, ref := range xapi.Refs(o, "snapshots") {
			if snap := tx.Get("VM", ref); snap != nil && xapi.Bool(snap, "is_vmss_snapshot") {
				snaps = append(snaps, snap)
			}
		}
		sort.Slice(snaps, func(i, j int) bool {
			ti, tj := xapi.Time(snaps[i], "snapshot_time"), xapi.Time(snaps[j], "snapshot_time")
			if !ti.Equal(tj) {
				return ti.Before(tj)
			}
			return snaps[i].Ref < snaps[j].Ref
		})
		for len(snaps) > retained {
			snap := snaps[0]
			snaps = snaps[1:]
			var disks []string
			for _, ref := range xapi.Refs(snap, "VBDs") {
				if vbd := tx.Get("VBD", ref); vbd != nil && xapi.Str(vbd, "type") != "CD" && !xapi.Bool(vbd, "empty") {
					disks = append(disks, xapi.Str(vbd, "VDI"))
				}
			}
			if img := xapi.Str(snap, "suspend_VDI"); !isNull(img) {
				disks = append(disks, img)
			}
			deleteVM(tx, snap)
			for _, ref := range disks {
				destroyVDI(tx, ref)
			}
		}
		return nil
	})
	return err
}
