// SPDX-License-Identifier: GPL-2.0
/*
 * pcopy vcpu PID TID VCPU|none: tell pcopy which vCPU a thread runs, or
 * that it runs none.  pcopy learns vCPU threads from KVM by itself; this is
 * for a VMM pcopy cannot watch (no kvm_entry tracepoint) or that should be
 * described exactly.  An explicit mapping is never replaced by a learned one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"
#include "observe/session.h"

static uint32_t vcpu_arg(const char *s)
{
	uint32_t v;
	int ret;

	if (!strcmp(s, "none"))
		return PCOPY_VCPU_NONE;
	ret = parse_u32(s, 0, PCOPY_MAX_VCPUS - 1, &v);
	if (ret == -EINVAL)
		usage_error("vcpu: '%s' is neither a vCPU index nor 'none'", s);
	if (ret)
		usage_error("vcpu: vCPU %s is out of range (0 to %d)", s,
			    PCOPY_MAX_VCPUS - 1);
	return v;
}

int cmd_vcpu(int argc, char **argv, const struct opts *go)
{
	char what[64], notrk[48], notours[80];
	const struct errtext texts[] = {
		{ ENOENT, notrk },
		{ ESRCH, notours },
		{ ERANGE, "the module refuses this vCPU index (out of range)" },
		{ 0, NULL },
	};
	struct opts o = *go;
	uint32_t pid, tid, vcpu;
	struct nl_msg *msg;
	struct pnl p;
	int i, ret;

	i = cmd_opts(argc, argv, &o, "PID TID VCPU|none");
	if (argc - i != 3)
		usage_error("vcpu: expected PID TID VCPU|none");
	pid = id_arg("vcpu", "pid", argv[i]);
	tid = id_arg("vcpu", "tid", argv[i + 1]);
	vcpu = vcpu_arg(argv[i + 2]);
	snprintf(what, sizeof(what), "vcpu %u %u %s", pid, tid, argv[i + 2]);
	snprintf(notrk, sizeof(notrk), "pid %u is not tracked", pid);
	snprintf(notours, sizeof(notours), "thread %u does not belong to process %u",
		 tid, pid);

	ret = pnl_open(&p);
	if (ret)
		return ret;
	msg = session_msg(&p, PCOPY_CMD_SET_VCPU, 0, pid);
	if (msg && (nla_put_u32(msg, PCOPY_A_TID, tid) < 0 ||
		    nla_put_u32(msg, PCOPY_A_VCPU, vcpu) < 0)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	ret = session_ack(&p, msg, what, texts);
	if (ret)
		goto out;

	if (o.json) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, "pid", json_object_new_int64(pid));
		json_object_object_add(obj, "tid", json_object_new_int64(tid));
		json_object_object_add(obj, "vcpu", vcpu == PCOPY_VCPU_NONE ? NULL :
				       json_object_new_int64(vcpu));
		print_json(obj);
		json_object_put(obj);
	} else if (vcpu == PCOPY_VCPU_NONE) {
		printf("pid %u: thread %u is not a vCPU thread\n", pid, tid);
	} else {
		printf("pid %u: thread %u is vCPU %u\n", pid, tid, vcpu);
	}
out:
	pnl_close(&p);
	return ret;
}
