"""Run a command under an OCI seccomp profile, as a container runtime applies it to a pod:
`/usr/bin/python3 seccomp_exec.py PROFILE.json COMMAND…` (the system Python, whose
python3-seccomp is libseccomp's own binding). Only what deploy/seccomp/chatops-bot.json
uses is understood: an errno default and unconditional allow rules."""

import contextlib
import json
import os
import sys

import seccomp


def main() -> None:
    with open(sys.argv[1]) as stream:
        profile = json.load(stream)
    if profile["defaultAction"] != "SCMP_ACT_ERRNO":
        sys.exit(f"unsupported defaultAction {profile['defaultAction']}")
    rules = seccomp.SyscallFilter(seccomp.ERRNO(profile.get("defaultErrnoRet", 1)))
    for rule in profile["syscalls"]:
        if rule["action"] != "SCMP_ACT_ALLOW" or rule.get("args") or rule.get("includes"):
            sys.exit(f"unsupported rule {rule}")
        for name in rule["names"]:
            with contextlib.suppress(ValueError, RuntimeError):  # not of this architecture
                rules.add_rule(seccomp.ALLOW, name)
    rules.load()  # with no_new_privs, as for a container that may not escalate
    os.execvp(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
