#!/usr/bin/env bash
# Lists the kernel objects tests and demos create (network namespaces, links,
# loop devices, mounts, volume groups), one per line, so that two listings
# taken before and after a run can be compared.
set -uo pipefail
ip netns list 2>/dev/null | awk '{print "netns " $1}' | sort
ip -o link show 2>/dev/null | awk -F': ' '{print "link " $2}' | sed 's/@.*//' | sort
losetup -l -n -O NAME,BACK-FILE 2>/dev/null | awk '{print "loop " $1 " " $2}' | sort
# /run/netns itself is iproute2's own bind mount, made once by the first
# `ip netns add` on a machine and shared by every namespace: not a lab object
# (each namespace's /run/netns/<name> mount still counts).
awk '$2 != "/run/netns" {print "mount " $2}' /proc/self/mounts | sort
vgs --noheadings -o vg_name 2>/dev/null | awk '{print "vg " $1}' | sort
