#!/usr/bin/python3
"""Write chatops-bot.json: the seccomp profile under which bubblewrap can start the plugin
sandbox in a pod, where the runtime's default profile (Kubernetes' RuntimeDefault) stops it.

It allows every system call libseccomp knows for x86-64 and arm64 except DENIED, so that
a call added to the kernel later is refused (EPERM) until it is reviewed. Beyond a
RuntimeDefault profile it allows what bubblewrap needs to build the sandbox as an
unprivileged user — unshare and clone with namespace flags, mount, umount2, pivot_root —
which the kernel grants only inside the new user namespace. It denies what no plugin or
the bot needs and what the runtime defaults deny: loading kernel code, tracing or reading
other processes, keys, BPF, the clock, swap, reboot, io_uring, and the new mount API.

Run with the system Python and python3-seccomp (`apt-get install python3-seccomp`):
    deploy/seccomp/generate.py > deploy/seccomp/chatops-bot.json
tests/test_seccomp.py checks the file is what this writes and that bubblewrap starts
under it (and not under the profile without its namespace calls)."""

import json
import sys

import seccomp

ARCHES = (seccomp.Arch.X86_64, seccomp.Arch.AARCH64)
DENIED = {
    # kernel code, kernel state and the machine
    "init_module", "finit_module", "delete_module", "create_module", "query_module",
    "get_kernel_syms", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "syslog", "sysfs", "_sysctl", "uselib", "ustat", "nfsservctl", "acct", "quotactl",
    "quotactl_fd", "ioperm", "iopl", "vm86", "vm86old", "lookup_dcookie",
    # the clock
    "settimeofday", "stime", "clock_settime", "clock_adjtime",
    # other processes: tracing, their memory, their descriptors, performance counters
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "perf_event_open", "bpf", "userfaultfd", "fanotify_init", "move_pages", "migrate_pages",
    # the kernel keyring
    "add_key", "request_key", "keyctl",
    # files by handle (escapes a mount namespace), the new mount API, joining namespaces
    "open_by_handle_at", "name_to_handle_at", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr", "setns",
    # io_uring: a large attack surface the runtimes' defaults also refuse
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # reserved, never implemented
    "afs_syscall", "tuxcall", "security", "vserver", "putpmsg", "getpmsg",
}


def known_syscalls() -> set[str]:
    names = set()
    for arch in ARCHES:
        for number in range(1100):
            try:
                names.add(seccomp.resolve_syscall(arch, number).decode())
            except (ValueError, RuntimeError):
                continue
    names.discard("")
    return names


def profile() -> dict:
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64",
             "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [{"names": sorted(known_syscalls() - DENIED),
                      "action": "SCMP_ACT_ALLOW"}],
    }


if __name__ == "__main__":
    json.dump(profile(), sys.stdout, indent=1)
    sys.stdout.write("\n")
