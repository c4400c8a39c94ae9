package cluster

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/wire"
)

// Host and VM plugins (xapi_plugins.ml, xapi_vm.ml). A host plugin is a script in dom0's
// plugin directory that xapi runs with the function name and the args; the simulation
// replaces the scripts by a small table of Go functions (see docs/architecture.md,
// "Plugins"). A plugin that is not in the table is missing: XENAPI_MISSING_PLUGIN [name].
// A function the plugin does not have gets what XenAPIPlugin.dispatch prints for it,
// UNKNOWN_XENAPI_PLUGIN_FUNCTION [fn]; an exception in a plugin function becomes
// XENAPI_PLUGIN_FAILURE [fn, exception class, message].

// pluginFn is one function of a simulated plugin: it returns the plugin's string result.
type pluginFn func(c *xapi.Call, host string, args map[string]string) (string, error)

// dom0RootFree is what the simulated dom0 root filesystem (18 GiB, 4 GiB used) has free.
const dom0RootFree = 14 * gib

// hostPlugins are the plugins of the simulated dom0, by file name.
var hostPlugins = map[string]map[string]pluginFn{
	// echo.py (shipped with xapi): echoes its args, after sleeping args["sleep"] seconds.
	"echo.py": {"main": echoPlugin},
	// disk-space (shipped with xapi): dom0 disk space for hotfix uploads.
	"disk-space": {
		"get_avail_host_disk_space": func(*xapi.Call, string, map[string]string) (string, error) {
			return strconv.FormatInt(dom0RootFree, 10), nil
		},
		"check_patch_upload": func(_ *xapi.Call, _ string, args map[string]string) (string, error) {
			size, err := pluginSize("check_patch_upload", args)
			if err != nil {
				return "", err
			}
			return pyBool(size < dom0RootFree), nil
		},
		"get_required_space": func(_ *xapi.Call, _ string, args map[string]string) (string, error) {
			if _, ok := args["size"]; !ok {
				return "", pluginException("get_required_space", "Exception", "MISSING_SIZE")
			}
			return args["size"], nil
		},
		// No hotfix files nor backups exist in the simulated dom0.
		"get_reclaimable_disk_space": func(*xapi.Call, string, map[string]string) (string, error) { return "0", nil },
		"cleanup_disk_space":         func(*xapi.Call, string, map[string]string) (string, error) { return "", nil },
	},
	// hyperthreading.py (XCP-ng, asked by Xen Orchestra): whether the CPUs run two threads
	// per core, which the simulated Xeon Silver 4214R does.
	"hyperthreading.py": {"get_hyperthreading": func(*xapi.Call, string, map[string]string) (string, error) { return "true", nil }},
}

// pluginException is XENAPI_PLUGIN_FAILURE as XenAPIPlugin.dispatch reports an exception.
func pluginException(fn, class, msg string) error {
	return apierror.New("XENAPI_PLUGIN_FAILURE", fn, class, msg)
}

// pluginSize reads args["size"] as the disk-space plugin does.
func pluginSize(fn string, args map[string]string) (int64, error) {
	v, ok := args["size"]
	if !ok {
		return 0, pluginException(fn, "Exception", "MISSING_SIZE")
	}
	n, err := pyInt(v)
	if err != nil {
		return 0, pluginException(fn, "ValueError", err.Error())
	}
	return n, nil
}

// pyInt is Python's int() of a string, with its error message.
func pyInt(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid literal for int() with base 10: %s", pyRepr(s))
	}
	return n, nil
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// echoPlugin is echo.py's main: "args were: " and Python's repr of the args dict. The
// simulation prints the keys in sorted order (the real order is the order on the wire).
func echoPlugin(c *xapi.Call, _ string, args map[string]string) (string, error) {
	if v, ok := args["sleep"]; ok {
		secs, err := pyInt(v)
		if err != nil {
			return "", pluginException("main", "ValueError", err.Error())
		}
		if secs < 0 {
			return "", pluginException("main", "ValueError", "sleep length must be non-negative")
		}
		select {
		case <-time.After(time.Duration(secs) * time.Second):
		case <-c.Cancelled():
		case <-c.Ctx.Done():
		}
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = pyRepr(k) + ": " + pyRepr(args[k])
	}
	return "args were: {" + strings.Join(parts, ", ") + "}", nil
}

// pyRepr is Python 3's repr of a str.
func pyRepr(s string) string {
	quote := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// stringArgs is a (string -> string) map parameter.
func stringArgs(v any) map[string]string {
	out := map[string]string{}
	for k, x := range v.(map[string]any) {
		out[k], _ = x.(string)
	}
	return out
}

// vmPluginInterval is xapi's vm_call_plugin_interval: one VM.call_plugin per VM every
// 10 seconds.
const vmPluginInterval = 10 * time.Second

// pluginCalls remembers the last VM.call_plugin per VM, for the rate limit.
type pluginCalls struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// admit records a call on vm, or refuses it with VM_CALL_PLUGIN_RATE_LIMIT [vm, interval,
// seconds to wait] when the last one was less than the interval ago.
func (pc *pluginCalls) admit(vm string, now time.Time) error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.last == nil {
		pc.last = map[string]time.Time{}
	}
	for v, t := range pc.last {
		if now.Sub(t) > vmPluginInterval {
			delete(pc.last, v)
		}
	}
	if t, ok := pc.last[vm]; ok {
		if wait := t.Add(vmPluginInterval).Sub(now); wait > 0 {
			return apierror.New("VM_CALL_PLUGIN_RATE_LIMIT", vm, wire.FormatOCamlFloat(vmPluginInterval.Seconds()),
				wire.FormatOCamlFloat(wait.Seconds()))
		}
	}
	pc.last[vm] = now
	return nil
}

func (p *Sim) registerPlugins() {
	s := p.srv
	s.Handle("host.call_plugin", func(c *xapi.Call) (any, error) {
		host, plugin, fn := c.StringArg(0), c.StringArg(1), c.StringArg(2)
		if _, err := c.Get("host", host); err != nil {
			return nil, err
		}
		if err := forwardTo(s.Store, host); err != nil {
			return nil, err
		}
		fns, ok := hostPlugins[plugin]
		if !ok {
			return nil, apierror.New("XENAPI_MISSING_PLUGIN", plugin)
		}
		f, ok := fns[fn]
		if !ok {
			return nil, apierror.New("UNKNOWN_XENAPI_PLUGIN_FUNCTION", fn)
		}
		return f(c, host, stringArgs(c.Arg(3)))
	})
	s.Handle("host.restart_agent", func(c *xapi.Call) (any, error) {
		if _, err := c.Get("host", c.StringArg(0)); err != nil {
			return nil, err
		}
		// The toolstack restarts a second after the reply; the simulated one is back at once.
		return nil, forwardTo(s.Store, c.StringArg(0))
	})
	s.Handle("VM.call_plugin", p.vmCallPlugin)
}

// vmCallPlugin is VM.call_plugin: under the VM's call_plugin operation (which fails at
// once when another operation holds the VM), only the guest agent plugin exists.
func (p *Sim) vmCallPlugin(c *xapi.Call) (any, error) {
	vm, plugin, fn := c.StringArg(0), c.StringArg(1), c.StringArg(2)
	args := stringArgs(c.Arg(3))
	o := forwardedVMOp(vm, "call_plugin")
	o.failFast = true
	err := p.withOp(c, o, func() error {
		if plugin != "guest-agent-operation" {
			return apierror.New("XENAPI_MISSING_PLUGIN", plugin)
		}
		if err := p.pluginCalls.admit(vm, time.Now()); err != nil {
			return err
		}
		switch fn {
		case "request-rdp-on", "request-rdp-off":
			// The guest agent must advertise the terminal-services feature.
			if v := guestFeature(p.srv.Store, p.srv.Store.Get("VM", vm), "feature-ts2"); v == "" || v == "0" {
				msg := fmt.Sprintf("The requested fn %q of plugin %q could not be executed for lack of guest agent control feature.", fn, plugin)
				return apierror.New("XENAPI_PLUGIN_FAILURE", "failed to execute fn", msg, msg)
			}
			return nil
		case "run-script":
			return p.runScriptChecks(c, args)
		}
		msg := fmt.Sprintf("The requested fn %q could not be found in plugin %q.", fn, plugin)
		return apierror.New("XENAPI_PLUGIN_FAILURE", "failed to find fn", msg, msg)
	})
	return "", err
}

// runScriptChecks are xapi's checks before the guest agent runs a script: the pool must
// allow it, username, password and script are required, the caller needs the
// VM.checkpoint permission, and the script is at most 1024 bytes. The simulated guests
// have no agent to run it, so a call that passes the checks is not implemented.
func (p *Sim) runScriptChecks(c *xapi.Call, args map[string]string) error {
	if xapi.StringMap(firstPool(p.srv.Store), "other_config")["allow_guest_agent_run_script"] != "true" {
		return apierror.New("FEATURE_RESTRICTED")
	}
	for _, a := range []string{"username", "password", "script"} {
		if _, ok := args[a]; !ok {
			return apierror.New("XENAPI_PLUGIN_FAILURE", "missing argument", "", fmt.Sprintf("Argument %s is required.", a))
		}
	}
	if !c.IsSuperuser() && c.Session != nil && !slices.Contains(xapi.Refs(c.Session, "rbac_permissions"), "vm.checkpoint") {
		return apierror.New(apierror.RBACPermissionDenied, "vm.call_plugin", "No permission to run script, must have VM power admin role or higher.")
	}
	if len(args["script"]) > 1024 {
		return apierror.New("XENAPI_PLUGIN_FAILURE", "length restriction", "", "The script length must not exceed 1024 bytes")
	}
	return apierror.New(apierror.NotImplemented, "VM.call_plugin")
}
