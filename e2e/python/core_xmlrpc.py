"""Core checks over XML-RPC with Python's standard xmlrpc.client.

Usage: core_xmlrpc.py URL USER PASSWORD
Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""
import sys
import xmlrpc.client

url, user, password = sys.argv[1:4]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (": " + detail if detail else ""))


def value(reply):
    if reply.get("Status") != "Success":
        raise RuntimeError("API error %r" % (reply.get("ErrorDescription"),))
    return reply["Value"]


def error(reply):
    if reply.get("Status") != "Failure":
        return None
    return reply["ErrorDescription"]


for path in ("/", "/RPC2"):
    proxy = xmlrpc.client.ServerProxy(url + path)
    tag = "[%s] " % path
    # Login with 2 and with 4 arguments.
    s2 = value(proxy.session.login_with_password(user, password))
    check(tag + "login with 2 arguments", s2.startswith("OpaqueRef:"), s2)
    s = value(proxy.session.login_with_password(user, password, "1.0", "core-checks"))
    check(tag + "login with 4 arguments", s.startswith("OpaqueRef:"), s)

    pools = value(proxy.pool.get_all_records(s))
    check(tag + "pool.get_all_records has one pool", len(pools) == 1, repr(pools.keys()))
    master = list(pools.values())[0]["master"]
    host = value(proxy.host.get_record(s, master))
    check(tag + "host.get_record(master) API version 2.21 (ints as strings)",
          host["API_version_major"] == "2" and host["API_version_minor"] == "21",
          "%r.%r" % (host["API_version_major"], host["API_version_minor"]))
    check(tag + "host.software_version has xapi", "xapi" in host["software_version"], repr(host["software_version"]))
    check(tag + "host.enabled is a bool", host["enabled"] is True, repr(host["enabled"]))

    vms = value(proxy.VM.get_all_records(s))
    dom0s = [r for r in vms.values() if r["is_control_domain"]]
    check(tag + "VM.get_all_records includes the control domains", len(dom0s) >= 1, repr(len(dom0s)))

    err = error(proxy.VM.get_record(s, "OpaqueRef:bogus"))
    check(tag + "VM.get_record(bogus) -> HANDLE_INVALID", err == ["HANDLE_INVALID", "VM", "OpaqueRef:bogus"], repr(err))

    vm = list(vms.keys())[0]
    err = error(proxy.VM.start(s, vm))
    check(tag + "VM.start(vm) -> MESSAGE_PARAMETER_COUNT_MISMATCH", err == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "1"], repr(err))

    err = error(proxy.VM.get_by_uuid(s, "nope"))
    check(tag + "VM.get_by_uuid(nope) -> UUID_INVALID", err == ["UUID_INVALID", "VM", "nope"], repr(err))

    methods = proxy.system.listMethods()
    check(tag + "system.listMethods lists VM.get_all_records and host.get_all_records",
          "VM.get_all_records" in methods and "host.get_all_records" in methods, repr(len(methods)))
    check(tag + "system.listMethods has no Async. names", not any(m.startswith("Async.") for m in methods))

    err = error(proxy.session.login_with_password(user, password + "x"))
    check(tag + "wrong password -> SESSION_AUTHENTICATION_FAILED",
          err is not None and err[0] == "SESSION_AUTHENTICATION_FAILED" and err[1] == user, repr(err))

    value(proxy.session.logout(s))
    err = error(proxy.pool.get_all(s))
    check(tag + "call after logout -> SESSION_INVALID", err == ["SESSION_INVALID", s], repr(err))
    value(proxy.session.logout(s2))

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
