#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Check Documentation/netlink/specs/pcopy.yaml against uapi/pcopy.h and
the kernel's policy in kmod/netlink.c (Documentation/ynl.rst).

  1. Every name the spec defines (family, version, group, constants,
     enums, flags, attribute sets, commands and their count/max names),
     with the value YNL gives it, is compiled against uapi/pcopy.h: a name
     the header lacks fails to compile, a value that differs is reported.
  2. Every member of the header's netlink enums is in the spec, and every
     enum of the header is either one of those or listed in NOT_NETLINK.
  3. Every attribute the kernel's policy accepts (anything but NLA_REJECT)
     has the spec's type and checks (min, max, max-len, flags mask).

Prints one line per problem and "spec: N names, M policy entries, in
sync" when there is none; exits 1 on any problem.
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(SRC, "Documentation/netlink/specs/pcopy.yaml")
HDR = os.path.join(SRC, "uapi/pcopy.h")
POLICY = os.path.join(SRC, "kmod/netlink.c")

# enums of uapi/pcopy.h that are not netlink: the record ring's ABI
NOT_NETLINK = {"pcopy_ring_bind_flags", "pcopy_ring_flags", "pcopy_rec_type",
               "pcopy_rec_flags", "pcopy_fault_reason"}


def c_name(s):
    return s.upper().replace("-", "_")


def names(spec):
    """{C name: value} for everything the spec names, as YNL numbers it."""
    fam = spec["name"]
    out = {}
    consts = {}
    out[c_name(spec["c-family-name"])] = fam
    out[c_name(spec["c-version-name"])] = spec["version"]
    for g in spec["mcast-groups"]["list"]:
        out[c_name(fam + "-mcgrp-" + g["name"])] = g["name"]
    enums = {}
    for d in spec["definitions"]:
        if d["type"] == "const":
            consts[d["name"]] = d["value"]
    for d in spec["definitions"]:
        if d["type"] == "const":
            out[c_name(fam + "-" + d["name"])] = d["value"]
            consts[d["name"]] = d["value"]
            continue
        prefix = d.get("name-prefix", fam + "-" + d["name"] + "-")
        members = []
        v = d.get("value-start", 0)
        for i, e in enumerate(d["entries"]):
            n = c_name(prefix + e["name"])
            out[n] = (1 << (v + i)) if d["type"] == "flags" else v + i
            members.append(n)
        enums[c_name(d.get("enum-name", fam + "-" + d["name"])).lower()] = members
    for a in spec["attribute-sets"]:
        if "subset-of" in a:
            continue
        if a["name"] == "hist":
            # no enum in the header: bucket i is attribute type i + 1
            hist = [x["name"] for x in a["attributes"]]
            if hist != ["bucket-%d" % i for i in range(consts["hist-ns-buckets"])]:
                raise SystemExit("spec: the hist set is not bucket-0.. bucket-%d"
                                 % (consts["hist-ns-buckets"] - 1))
            continue
        members = []
        v = 1
        for attr in a["attributes"]:
            v = attr.get("value", v)
            n = c_name(a["name-prefix"] + attr["name"])
            out[n] = v
            members.append(n)
            v += 1
        out[c_name(a["attr-cnt-name"])] = v
        out[c_name(a["attr-max-name"])] = v - 1
        enums[c_name(a["enum-name"]).lower()] = members
    ops = spec["operations"]
    members = []
    calls = {}
    v = 1
    for op in ops["list"]:
        v = op.get("value", v)
        if "do" in op or "dump" in op:
            n = c_name(ops["name-prefix"] + op["name"])
            out[n] = v
            members.append(n)
            calls[v] = op["name"]
        elif calls.get(v) is None:
            # a notification reuses a command's number (the kernel's events)
            raise SystemExit("spec: notification %s has value %d, no command's" %
                             (op["name"], v))
        v += 1
    out[c_name(spec["cmd-cnt-name"])] = max(calls) + 1
    out[c_name(spec["cmd-max-name"])] = max(calls)
    enums[c_name(ops["enum-name"]).lower()] = members
    return out, enums, consts


def compiled(values):
    """The header's value of every name, by compiling a program."""
    prog = ['#include <stdio.h>', '#include "pcopy.h"', "int main(void)", "{"]
    for n, v in values.items():
        if isinstance(v, str):
            prog.append('\tprintf("%%s %%s\\n", "%s", %s);' % (n, n))
        else:
            prog.append('\tprintf("%%s %%llu\\n", "%s", (unsigned long long)(%s));' % (n, n))
    prog += ["\treturn 0;", "}"]
    with tempfile.TemporaryDirectory() as d:
        c = os.path.join(d, "names.c")
        exe = os.path.join(d, "names")
        with open(c, "w") as f:
            f.write("\n".join(prog) + "\n")
        r = subprocess.run(["cc", "-Wall", "-Werror", "-I", os.path.dirname(HDR),
                            "-o", exe, c], capture_output=True, text=True)
        if r.returncode:
            undeclared = sorted(set(re.findall(r"'(\w+)' undeclared", r.stderr)))
            return None, undeclared or [r.stderr.strip()]
        got = {}
        for line in subprocess.run([exe], capture_output=True, text=True,
                                   check=True).stdout.splitlines():
            n, v = line.split(" ", 1)
            got[n] = v
        return got, []


def header_enums():
    text = re.sub(r"/\*.*?\*/", "", open(HDR).read(), flags=re.S)
    out = {}
    for name, body in re.findall(r"enum\s+(\w+)\s*\{(.*?)\}", text, flags=re.S):
        out[name] = [m for m in re.findall(r"^\s*(\w+)", body, flags=re.M)]
    return out


def policy():
    """{PCOPY_A_X: (nla type, {check: value})} of kmod/netlink.c's policy."""
    text = open(POLICY).read()
    body = re.search(r"pcopy_policy\[[^]]*\]\s*=\s*\{(.*?)\n\};", text, flags=re.S).group(1)
    out = {}
    parts = re.split(r"\[(PCOPY_A_\w+)\]\s*=\s*", body)[1:]
    for attr, val in zip(parts[::2], parts[1::2]):
        val = " ".join(val.split()).rstrip(",").strip()
        m = re.match(r"\{ \.type = (NLA_\w+)(?:, \.len = (\w+))? \}$", val)
        if m:
            out[attr] = (m.group(1), {"max-len": m.group(2)} if m.group(2) else {})
            continue
        m = re.match(r"NLA_POLICY_(MIN|MAX|MASK)\((NLA_\w+), (\w+)\)$", val)
        if m:
            key = {"MIN": "min", "MAX": "max", "MASK": "flags-mask"}[m.group(1)]
            out[attr] = (m.group(2), {key: m.group(3)})
            continue
        m = re.match(r"NLA_POLICY_RANGE\((NLA_\w+), (\w+), (\w+)\)$", val)
        if m:
            out[attr] = (m.group(1), {"min": m.group(2), "max": m.group(3)})
            continue
        out[attr] = ("?", {"unparsed": val})
    return out


NLA = {"u8": "NLA_U8", "u16": "NLA_U16", "u32": "NLA_U32", "u64": "NLA_U64",
       "flag": "NLA_FLAG", "string": "NLA_NUL_STRING"}


def main():
    spec = yaml.safe_load(open(SPEC))
    problems = []
    values, enums, consts = names(spec)

    got, undeclared = compiled(values)
    if got is None:
        problems += ["the header lacks %s" % n for n in undeclared]
    else:
        for n, v in values.items():
            if got.get(n) != str(v):
                problems.append("%s: spec %s, header %s" % (n, v, got.get(n)))

    hdr = header_enums()
    for name, members in hdr.items():
        if name in NOT_NETLINK:
            continue
        if name not in enums:
            problems.append("enum %s of the header is not in the spec "
                            "(or add it to NOT_NETLINK)" % name)
            continue
        for m in members:
            if m.startswith("__") or m.endswith("_UNSPEC"):
                continue
            if m not in enums[name]:
                problems.append("%s (enum %s) is not in the spec" % (m, name))

    # the header's symbolic values of checks, resolved through the spec
    sym = {c_name(spec["name"] + "-" + k): v for k, v in consts.items()}
    sym["__PCOPY_FEAT_ALL"] = sum(1 << i for i in range(len(
        [d for d in spec["definitions"] if d["name"] == "feature"][0]["entries"])))
    attrs = {c_name("pcopy-a-" + a["name"]): a
             for a in spec["attribute-sets"][0]["attributes"]}
    pol = policy()
    checked = 0
    for attr, (nla, checks) in sorted(pol.items()):
        if nla == "NLA_REJECT":
            continue
        a = attrs.get(attr)
        if a is None:
            problems.append("policy entry %s is not a spec attribute" % attr)
            continue
        checked += 1
        if NLA.get(a["type"]) != nla:
            problems.append("%s: policy %s, spec type %s" % (attr, nla, a["type"]))
        want = dict(a.get("checks", {}))
        if a.get("enum-as-flags"):
            want["flags-mask"] = sym["__PCOPY_FEAT_ALL"]
        for k in set(want) | set(checks):
            sv = want.get(k)
            sv = consts.get(sv, sv)
            kv = checks.get(k)
            kv = sym.get(kv, kv)
            try:
                kv = int(kv, 0) if isinstance(kv, str) else kv
            except ValueError:
                pass
            if sv != kv:
                problems.append("%s: check %s is %s in the policy, %s in the spec" %
                                (attr, k, kv, sv))
    for attr, a in attrs.items():
        if a.get("checks") and (attr not in pol or pol[attr][0] == "NLA_REJECT"):
            problems.append("%s has checks in the spec but the policy rejects it" % attr)

    for p in problems:
        print("spec: " + p)
    if problems:
        return 1
    print("spec: %d names, %d policy entries, in sync" % (len(values), checked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
