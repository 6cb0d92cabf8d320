// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "pcopy": the control surface of the module.
 * The ABI is documented in uapi/pcopy.h.
 *
 * Pids and tids are read and reported in the requester's pid namespace;
 * multicast events, which have no single requester, use the initial one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <net/genetlink.h>

#include "compat.h"
#include "internal.h"

/*
 * One flat attribute space for every command, validated strictly by the
 * genetlink core before any handler runs (resv_start_op is 0, so every
 * command gets strict parsing).  What only the module sends is rejected.
 */
static const struct nla_policy pcopy_policy[PCOPY_A_MAX + 1] = {
	[PCOPY_A_PAD]		 = { .type = NLA_REJECT },
	[PCOPY_A_MODULE_VERSION] = { .type = NLA_NUL_STRING,
				     .len = PCOPY_VERSION_MAXLEN },
	[PCOPY_A_ABI_VERSION]	 = { .type = NLA_U32 },
	[PCOPY_A_FEATURES]	 = NLA_POLICY_MASK(NLA_U64, __PCOPY_FEAT_ALL),
	[PCOPY_A_FEATURES_KNOWN] = NLA_POLICY_MASK(NLA_U64, __PCOPY_FEAT_ALL),
	[PCOPY_A_PID]		 = NLA_POLICY_MIN(NLA_U32, 1),
	[PCOPY_A_TID]		 = NLA_POLICY_MIN(NLA_U32, 1),
	[PCOPY_A_VCPU]		 = { .type = NLA_U32 },
	[PCOPY_A_STATS]		 = { .type = NLA_REJECT },
	[PCOPY_A_VCPUS]		 = { .type = NLA_REJECT },
	[PCOPY_A_VCPU_ENTRY]	 = { .type = NLA_REJECT },
	[PCOPY_A_HIST_NS]	 = { .type = NLA_REJECT },
	[PCOPY_A_HIST_US]	 = { .type = NLA_REJECT },
	[PCOPY_A_TRUNCATED]	 = { .type = NLA_REJECT },
	[PCOPY_A_END_REASON]	 = { .type = NLA_REJECT },
	[PCOPY_A_UFFD_MAXACTIVE] = { .type = NLA_REJECT },
	[PCOPY_A_UFFD_MISSED]	 = { .type = NLA_REJECT },
	[PCOPY_A_PROBE_MISSED]	 = { .type = NLA_REJECT },
	[PCOPY_A_HOOKS]		 = { .type = NLA_REJECT },
	[PCOPY_A_HOOK]		 = { .type = NLA_REJECT },
	[PCOPY_A_SESSION_ID]	 = NLA_POLICY_MIN(NLA_U64, 1),
	[PCOPY_A_ENDED]		 = { .type = NLA_FLAG },
	[PCOPY_A_END_TIME]	 = { .type = NLA_REJECT },
	[PCOPY_A_ENDED_MAX]	 = { .type = NLA_REJECT },
	[PCOPY_A_ENDED_SECS]	 = { .type = NLA_REJECT },
	[PCOPY_A_ENDED_COUNT]	 = { .type = NLA_REJECT },
	[PCOPY_A_AUTO_ON]	 = NLA_POLICY_MAX(NLA_U8, 1),
	[PCOPY_A_AUTO_COMM]	 = { .type = NLA_NUL_STRING,
				     .len = PCOPY_AUTO_COMM_MAXLEN },
	[PCOPY_A_AUTO_CGROUP]	 = NLA_POLICY_MIN(NLA_U64, 1),
	[PCOPY_A_AUTO_MAX]	 = NLA_POLICY_RANGE(NLA_U32, 1, PCOPY_MAX_SESSIONS),
	[PCOPY_A_AUTO_CREATED]	 = { .type = NLA_REJECT },
	[PCOPY_A_AUTO_FILTERED]	 = { .type = NLA_REJECT },
	[PCOPY_A_AUTO_CAPPED]	 = { .type = NLA_REJECT },
	[PCOPY_A_AUTO_NO_SLOT]	 = { .type = NLA_REJECT },
	[PCOPY_A_AUTO_ATTACHED]	 = { .type = NLA_REJECT },
	[PCOPY_A_FOLLOW_FORKS]	 = { .type = NLA_FLAG },
	[PCOPY_A_PARENT_ID]	 = { .type = NLA_REJECT },
	[PCOPY_A_AUTO_FORKS]	 = { .type = NLA_REJECT },
	[PCOPY_A_AUTO_FORKS_LOST] = { .type = NLA_REJECT },
};

static struct genl_family pcopy_family;

enum { PCOPY_MCGRP_EVENTS_IDX };

static const struct genl_multicast_group pcopy_mcgrps[] = {
	/* events name host pids and carry statistics: admins only */
	[PCOPY_MCGRP_EVENTS_IDX] = { .name = PCOPY_MCGRP_EVENTS,
				     .flags = GENL_MCAST_CAP_NET_ADMIN },
};

/*
 * A required attribute is missing: report its type (NLMSGERR_ATTR_MISS_TYPE)
 * and say which one in words.
 */
#define MISSING(info, type, what) ({					\
	bool __missing = GENL_REQ_ATTR_CHECK(info, type);		\
	if (__missing)							\
		NL_SET_ERR_MSG((info)->extack, what " is required");	\
	__missing;							\
})

/* Set at unload, under pcopy_sessions_lock: no new sessions from now on. */
static bool pcopy_closing;

static int put_hook(void *arg, const char *name, u64 feature, int err,
		    const char *reason)
{
	struct sk_buff *msg = arg;
	struct nlattr *h;

	h = nla_nest_start(msg, PCOPY_A_HOOK);
	if (!h ||
	    nla_put_string(msg, PCOPY_HOOK_A_NAME, name) ||
	    nla_put_u64_64bit(msg, PCOPY_HOOK_A_FEATURE, feature, PCOPY_HOOK_A_PAD) ||
	    (err && nla_put_u32(msg, PCOPY_HOOK_A_ERROR, (u32)err)) ||
	    (err && reason && nla_put_string(msg, PCOPY_HOOK_A_REASON, reason)))
		return -EMSGSIZE;
	nla_nest_end(msg, h);
	return 0;
}

static int put_hooks(struct sk_buff *msg)
{
	struct nlattr *nest;

	nest = nla_nest_start(msg, PCOPY_A_HOOKS);
	if (!nest ||
	    put_hook(msg, "handle_userfault", PCOPY_FEAT_UFFD_HOOK,
		     pcopy_uffd_probe_error(), "register_kretprobe failed") ||
	    put_hook(msg, "handle_userfault (post)", PCOPY_FEAT_MISSED_HOOK,
		     pcopy_uffd_post_error(), "register_kprobe failed") ||
	    put_hook(msg, "userfaultfd_wake_function", PCOPY_FEAT_WAKE_HOOK,
		     pcopy_uffd_wake_error(), "register_kretprobe failed") ||
	    put_hook(msg, "sched_process_exec", PCOPY_FEAT_EXEC_HOOK,
		     pcopy_exec_error(), pcopy_exec_reason()) ||
	    put_hook(msg, "userfaultfd_ioctl", PCOPY_FEAT_AUTO_HOOK,
		     pcopy_auto_error(), "register_kprobe failed") ||
	    put_hook(msg, "sched_process_fork", PCOPY_FEAT_FORK_HOOK,
		     pcopy_fork_error(), pcopy_fork_reason()) ||
	    pcopy_kvm_hooks(put_hook, msg))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int put_auto(struct sk_buff *msg)
{
	struct pcopy_auto_config cfg;
	struct pcopy_auto_counters cnt;
	bool on;

	pcopy_auto_get(&on, &cfg, &cnt);
	if (nla_put_u8(msg, PCOPY_A_AUTO_ON, on) ||
	    (cfg.comm[0] && nla_put_string(msg, PCOPY_A_AUTO_COMM, cfg.comm)) ||
	    (cfg.cgroup && nla_put_u64_64bit(msg, PCOPY_A_AUTO_CGROUP, cfg.cgroup,
					     PCOPY_A_PAD)) ||
	    nla_put_u32(msg, PCOPY_A_AUTO_MAX, cfg.max) ||
	    nla_put_u64_64bit(msg, PCOPY_A_AUTO_CREATED, cnt.created, PCOPY_A_PAD) ||
	    nla_put_u64_64bit(msg, PCOPY_A_AUTO_FILTERED, cnt.filtered, PCOPY_A_PAD) ||
	    nla_put_u64_64bit(msg, PCOPY_A_AUTO_CAPPED, cnt.capped, PCOPY_A_PAD) ||
	    nla_put_u64_64bit(msg, PCOPY_A_AUTO_NO_SLOT, cnt.no_slot, PCOPY_A_PAD) ||
	    (cfg.follow_forks && nla_put_flag(msg, PCOPY_A_FOLLOW_FORKS)) ||
	    nla_put_u64_64bit(msg, PCOPY_A_AUTO_FORKS, cnt.forks, PCOPY_A_PAD) ||
	    nla_put_u64_64bit(msg, PCOPY_A_AUTO_FORKS_LOST, cnt.forks_lost,
			      PCOPY_A_PAD))
		return -EMSGSIZE;
	return 0;
}

static int pcopy_nl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_put_reply(msg, info, &pcopy_family, 0, PCOPY_CMD_GET_INFO);
	if (!hdr)
		goto err_size;

	if (nla_put_string(msg, PCOPY_A_MODULE_VERSION, PCOPY_MODULE_VERSION) ||
	    nla_put_u32(msg, PCOPY_A_ABI_VERSION, PCOPY_ABI_VERSION) ||
	    nla_put_u64_64bit(msg, PCOPY_A_FEATURES, pcopy_features(),
			      PCOPY_A_PAD) ||
	    nla_put_u64_64bit(msg, PCOPY_A_FEATURES_KNOWN, __PCOPY_FEAT_ALL,
			      PCOPY_A_PAD) ||
	    nla_put_u32(msg, PCOPY_A_UFFD_MAXACTIVE, pcopy_uffd_maxactive()) ||
	    nla_put_u64_64bit(msg, PCOPY_A_UFFD_MISSED, pcopy_uffd_missed(),
			      PCOPY_A_PAD) ||
	    nla_put_u64_64bit(msg, PCOPY_A_PROBE_MISSED, pcopy_probe_missed(),
			      PCOPY_A_PAD) ||
	    nla_put_u32(msg, PCOPY_A_ENDED_MAX, pcopy_ended_max()) ||
	    nla_put_u32(msg, PCOPY_A_ENDED_SECS, pcopy_ended_secs()) ||
	    nla_put_u32(msg, PCOPY_A_ENDED_COUNT, pcopy_ended_count()) ||
	    put_auto(msg) ||
	    put_hooks(msg))
		goto err_size;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_size:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/*
 * A global (initial namespace) id as the requester sees it: unchanged for a
 * requester in the initial namespace, else translated (0 if gone).
 */
static u32 id_for_reader(pid_t global, bool caller_ns)
{
	struct pid *pid;
	u32 nr = 0;

	if (!caller_ns || task_active_pid_ns(current) == &init_pid_ns)
		return global;
	rcu_read_lock();
	pid = find_pid_ns(global, &init_pid_ns);
	if (pid)
		nr = pid_vnr(pid);
	rcu_read_unlock();
	return nr;
}

static int put_stats(struct sk_buff *skb, const struct pcopy_snapshot *snap)
{
	const struct pcopy_stats *st = &snap->st;
	struct nlattr *nest;

	nest = nla_nest_start(skb, PCOPY_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, PCOPY_STATS_A_FAULTS, st->faults, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_NOWAIT_FAULTS, st->nowait, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_INTERRUPTED, st->interrupted, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_LATENCY_SUM_NS, st->lat_sum, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_LATENCY_MAX_NS, st->lat_max, PCOPY_STATS_A_PAD) ||
	    nla_put_u32(skb, PCOPY_STATS_A_OUTSTANDING, st->outstanding) ||
	    nla_put_u32(skb, PCOPY_STATS_A_OUTSTANDING_MAX, st->outstanding_max) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_VCPU_FAULTS, st->vcpu_faults, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_NONVCPU_FAULTS, st->nonvcpu_faults, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_NONVCPU_LATENCY_SUM_NS, st->nonvcpu_lat_sum,
			      PCOPY_STATS_A_PAD) ||
	    nla_put_u32(skb, PCOPY_STATS_A_KNOWN_VCPUS, st->known_vcpus) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_BLOCKTIME_NS, st->blocktime, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_ELAPSED_NS, snap->now - st->start,
			      PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_DIRTY_PAGES, st->dirty, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_DIRTY_RATE, st->dirty_rate, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_MISSED, st->missed, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_THREADS_DROPPED, st->threads_dropped,
			      PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_EXECS, st->execs, PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_RING_LOST_RECORDS, st->ring_lost_records,
			      PCOPY_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, PCOPY_STATS_A_RING_LOST_GFNS, st->ring_lost_gfns,
			      PCOPY_STATS_A_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* Histogram nests: attribute type = bucket + 1; type 0 is padding. */
static int put_hist(struct sk_buff *skb, int type, const u64 *b, unsigned int n)
{
	struct nlattr *nest;
	unsigned int i;

	nest = nla_nest_start(skb, type);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < n; i++) {
		if (b[i] && nla_put_u64_64bit(skb, i + 1, b[i], 0)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int put_vcpus(struct sk_buff *skb, const struct pcopy_snapshot *snap,
		     bool caller_ns)
{
	struct nlattr *nest, *e;
	unsigned int i;

	nest = nla_nest_start(skb, PCOPY_A_VCPUS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < PCOPY_MAX_VCPUS; i++) {
		const struct pcopy_vcpu_stats *v = &snap->vcpus[i];

		if (!v->seen)
			continue;
		e = nla_nest_start(skb, PCOPY_A_VCPU_ENTRY);
		if (!e ||
		    nla_put_u32(skb, PCOPY_VCPU_A_INDEX, i) ||
		    nla_put_u32(skb, PCOPY_VCPU_A_TID, id_for_reader(v->tid, caller_ns)) ||
		    (v->explicit && nla_put_flag(skb, PCOPY_VCPU_A_EXPLICIT)) ||
		    (!v->known && nla_put_flag(skb, PCOPY_VCPU_A_DETACHED)) ||
		    nla_put_u64_64bit(skb, PCOPY_VCPU_A_FAULTS, v->faults, PCOPY_VCPU_A_PAD) ||
		    nla_put_u64_64bit(skb, PCOPY_VCPU_A_LATENCY_SUM_NS, v->lat_sum,
				      PCOPY_VCPU_A_PAD) ||
		    nla_put_u64_64bit(skb, PCOPY_VCPU_A_LATENCY_MIN_NS, v->lat_min,
				      PCOPY_VCPU_A_PAD) ||
		    nla_put_u64_64bit(skb, PCOPY_VCPU_A_LATENCY_MAX_NS, v->lat_max,
				      PCOPY_VCPU_A_PAD) ||
		    nla_put_u64_64bit(skb, PCOPY_VCPU_A_BLOCKTIME_NS, v->blocktime,
				      PCOPY_VCPU_A_PAD) ||
		    nla_put_u32(skb, PCOPY_VCPU_A_OUTSTANDING, v->outstanding) ||
		    nla_put_u64_64bit(skb, PCOPY_VCPU_A_DIRTY_PAGES, v->dirty,
				      PCOPY_VCPU_A_PAD) ||
		    nla_put_u64_64bit(skb, PCOPY_VCPU_A_DIRTY_RATE, v->dirty_rate,
				      PCOPY_VCPU_A_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, e);
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* An ended session: the flag, its reason and its end time. */
static int put_end(struct sk_buff *skb, struct pcopy_session *s)
{
	if (!READ_ONCE(s->end_seq))
		return 0;
	if (nla_put_flag(skb, PCOPY_A_ENDED) ||
	    nla_put_u32(skb, PCOPY_A_END_REASON, s->end_reason) ||
	    nla_put_u64_64bit(skb, PCOPY_A_END_TIME, s->end_time, PCOPY_A_PAD))
		return -EMSGSIZE;
	return 0;
}

enum fill_vcpus { VCPUS_NO, VCPUS_YES, VCPUS_TRUNCATED };

/*
 * One session message.  @vcpus says whether the per-vCPU table goes in, or
 * is left out and flagged as truncated.
 */
static int fill_session(struct sk_buff *skb, const struct pcopy_snapshot *snap,
			struct pcopy_session *s, u32 portid, u32 seq, int flags,
			u8 cmd, enum fill_vcpus vcpus, bool caller_ns)
{
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &pcopy_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, PCOPY_A_PID, caller_ns ? pid_vnr(s->pid) : s->tgid) ||
	    nla_put_u64_64bit(skb, PCOPY_A_SESSION_ID, s->id, PCOPY_A_PAD) ||
	    (s->auto_attached && nla_put_flag(skb, PCOPY_A_AUTO_ATTACHED)) ||
	    (READ_ONCE(s->follow_forks) && nla_put_flag(skb, PCOPY_A_FOLLOW_FORKS)) ||
	    (s->parent_id && nla_put_u64_64bit(skb, PCOPY_A_PARENT_ID, s->parent_id,
					       PCOPY_A_PAD)) ||
	    put_end(skb, s) ||
	    put_stats(skb, snap) ||
	    (vcpus == VCPUS_YES && put_vcpus(skb, snap, caller_ns)) ||
	    (vcpus == VCPUS_TRUNCATED && nla_put_flag(skb, PCOPY_A_TRUNCATED)) ||
	    put_hist(skb, PCOPY_A_HIST_NS, snap->st.hist_ns, PCOPY_HIST_NS_BUCKETS) ||
	    put_hist(skb, PCOPY_A_HIST_US, snap->st.hist_us, PCOPY_HIST_US_BUCKETS)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static size_t session_msg_size(const struct pcopy_snapshot *snap)
{
	/* stats and histograms fit in 4 KiB; a vCPU entry takes under 160 B */
	unsigned int i, n = 0;

	for (i = 0; i < PCOPY_MAX_VCPUS; i++)
		n += snap->vcpus[i].seen;
	return 4096 + (size_t)n * 170;
}

static struct pcopy_snapshot *snapshot_alloc(void)
{
	return kvmalloc(sizeof(struct pcopy_snapshot), GFP_KERNEL);
}

/* Reply to @info with the full state of @s (referenced by the caller). */
static int reply_session(struct genl_info *info, struct pcopy_session *s, u8 cmd)
{
	struct pcopy_snapshot *snap;
	struct sk_buff *msg;
	int ret;

	snap = snapshot_alloc();
	if (!snap)
		return -ENOMEM;
	pcopy_session_prune_threads(s);
	pcopy_stats_snapshot(s, snap);
	msg = genlmsg_new(session_msg_size(snap), GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	ret = fill_session(msg, snap, s, info->snd_portid, info->snd_seq, 0,
			   cmd, VCPUS_YES, true);
	if (ret) {
		nlmsg_free(msg);
		goto out;
	}
	ret = genlmsg_reply(msg, info);
out:
	kvfree(snap);
	return ret;
}

/*
 * Look up the session named by PCOPY_A_PID, with a reference, or fail with
 * an extack message.  Takes and releases pcopy_sessions_lock.
 */
static struct pcopy_session *session_from_info(struct genl_info *info)
{
	struct pcopy_session *s;
	u32 pid_nr;

	if (MISSING(info, PCOPY_A_PID, "PCOPY_A_PID"))
		return ERR_PTR(-EINVAL);

	pid_nr = nla_get_u32(info->attrs[PCOPY_A_PID]);
	mutex_lock(&pcopy_sessions_lock);
	s = pcopy_session_lookup(pid_nr);
	/* only SESSION_GET takes PCOPY_A_ENDED: the others find live ones */
	if (!s && info->genlhdr->cmd == PCOPY_CMD_SESSION_GET &&
	    nla_get_flag(info->attrs[PCOPY_A_ENDED]))
		s = pcopy_session_lookup_ended(pid_nr);
	if (s && !pcopy_session_get(s))
		s = NULL;
	mutex_unlock(&pcopy_sessions_lock);
	if (!s) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[PCOPY_A_PID],
				    "process is not tracked");
		return ERR_PTR(-ENOENT);
	}
	return s;
}

static int pcopy_nl_session_new(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[PCOPY_A_PID];
	struct pcopy_session *s;
	struct pid *pid;
	bool follow;
	int ret;

	if (MISSING(info, PCOPY_A_PID, "PCOPY_A_PID"))
		return -EINVAL;

	follow = nla_get_flag(info->attrs[PCOPY_A_FOLLOW_FORKS]);
	if (follow && pcopy_fork_error()) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[PCOPY_A_FOLLOW_FORKS],
				    "forks cannot be followed on this kernel");
		return -EOPNOTSUPP;
	}
	pid = find_get_pid(nla_get_u32(attr));
	if (!pid) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "no such process");
		return -ESRCH;
	}

	mutex_lock(&pcopy_sessions_lock);
	if (pcopy_closing) {
		NL_SET_ERR_MSG(info->extack, "module is unloading");
		s = ERR_PTR(-ESHUTDOWN);
	} else {
		s = pcopy_session_new(pid, info->extack);
	}
	if (IS_ERR(s)) {
		mutex_unlock(&pcopy_sessions_lock);
		put_pid(pid);
		NL_SET_BAD_ATTR(info->extack, attr);
		return PTR_ERR(s);
	}
	WRITE_ONCE(s->follow_forks, follow);
	pcopy_session_get(s);
	pcopy_netlink_notify_new(s);
	mutex_unlock(&pcopy_sessions_lock);
	put_pid(pid);

	ret = reply_session(info, s, PCOPY_CMD_SESSION_NEW);
	pcopy_session_put(s);
	return ret;
}

static int pcopy_nl_session_del(struct sk_buff *skb, struct genl_info *info)
{
	struct pcopy_session *s = session_from_info(info);

	if (IS_ERR(s))
		return PTR_ERR(s);
	mutex_lock(&pcopy_sessions_lock);
	pcopy_session_end(s, PCOPY_END_DELETED);
	mutex_unlock(&pcopy_sessions_lock);
	pcopy_session_end_sync(s);
	pcopy_session_put(s);
	return 0;
}

static int pcopy_nl_session_reset(struct sk_buff *skb, struct genl_info *info)
{
	struct pcopy_session *s = session_from_info(info);

	if (IS_ERR(s))
		return PTR_ERR(s);
	pcopy_stats_reset(s);
	pcopy_session_put(s);
	return 0;
}

/*
 * SESSION_GET: by PCOPY_A_SESSION_ID (live or ended, and the pid must match
 * if given too), or by PCOPY_A_PID: the live session, else with
 * PCOPY_A_ENDED the newest ended one.  With a reference.
 */
static struct pcopy_session *session_get_from_info(struct genl_info *info)
{
	struct nlattr *id_attr = info->attrs[PCOPY_A_SESSION_ID];
	struct nlattr *pid_attr = info->attrs[PCOPY_A_PID];
	struct pcopy_session *s;

	if (!id_attr)
		return session_from_info(info);
	mutex_lock(&pcopy_sessions_lock);
	s = pcopy_session_lookup_id(nla_get_u64(id_attr));
	if (s && pid_attr && pid_vnr(s->pid) != nla_get_u32(pid_attr))
		s = NULL;
	if (s && !pcopy_session_get(s))
		s = NULL;
	mutex_unlock(&pcopy_sessions_lock);
	if (!s) {
		if (pid_attr)
			NL_SET_ERR_MSG_ATTR(info->extack, id_attr,
					    "no such session of that process");
		else
			NL_SET_ERR_MSG_ATTR(info->extack, id_attr,
					    "no such session");
		return ERR_PTR(-ENOENT);
	}
	return s;
}

static int pcopy_nl_session_get(struct sk_buff *skb, struct genl_info *info)
{
	struct pcopy_session *s = session_get_from_info(info);
	int ret;

	if (IS_ERR(s))
		return PTR_ERR(s);
	ret = reply_session(info, s, PCOPY_CMD_SESSION_GET);
	pcopy_session_put(s);
	return ret;
}

/* A dump of the ended sessions (PCOPY_A_ENDED) rather than the live ones? */
static bool pcopy_dump_ended(struct netlink_callback *cb)
{
	struct nlattr **attrs = pcopy_dump_attrs(cb);

	return attrs && nla_get_flag(attrs[PCOPY_A_ENDED]);
}

/* One dump message for @s; too big even alone: without the vCPU table. */
static int dump_one(struct sk_buff *skb, struct netlink_callback *cb,
		    struct pcopy_snapshot *snap, struct pcopy_session *s)
{
	bool first = !skb->len;
	int ret;

	pcopy_stats_snapshot(s, snap);
	ret = fill_session(skb, snap, s, NETLINK_CB(cb->skb).portid,
			   cb->nlh->nlmsg_seq, NLM_F_MULTI,
			   PCOPY_CMD_SESSION_GET, VCPUS_YES, true);
	if (ret && first)
		ret = fill_session(skb, snap, s, NETLINK_CB(cb->skb).portid,
				   cb->nlh->nlmsg_seq, NLM_F_MULTI,
				   PCOPY_CMD_SESSION_GET, VCPUS_TRUNCATED, true);
	return ret;
}

/*
 * cb->args[0]: the global tgid to resume from (live sessions) or the end
 * sequence to go below (ended ones, args[2] set); args[1]: the snapshot.
 */
static int pcopy_nl_session_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct pcopy_snapshot *snap = (struct pcopy_snapshot *)cb->args[1];
	struct pcopy_session *s;
	unsigned long idx;
	int ret = 0;

	if (!snap) {
		snap = snapshot_alloc();
		if (!snap)
			return -ENOMEM;
		cb->args[1] = (long)snap;
		cb->args[2] = pcopy_dump_ended(cb);
		if (cb->args[2])
			cb->args[0] = LONG_MAX;
	}

	mutex_lock(&pcopy_sessions_lock);
	if (cb->args[2]) {
		while ((s = pcopy_session_ended_next(cb->args[0]))) {
			ret = dump_one(skb, cb, snap, s);
			if (ret)
				break;
			cb->args[0] = s->end_seq;
		}
	} else {
		xa_for_each_start(&pcopy_sessions, idx, s, cb->args[0]) {
			ret = dump_one(skb, cb, snap, s);
			if (ret)
				break;
			cb->args[0] = idx + 1;
		}
	}
	mutex_unlock(&pcopy_sessions_lock);
	if (ret && !skb->len)
		return ret;
	return skb->len;
}

static int pcopy_nl_session_dump_done(struct netlink_callback *cb)
{
	kvfree((void *)cb->args[1]);
	return 0;
}

static int pcopy_nl_set_vcpu(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tid_attr = info->attrs[PCOPY_A_TID];
	struct nlattr *vcpu_attr = info->attrs[PCOPY_A_VCPU];
	struct task_struct *task = NULL;
	struct pcopy_session *s;
	struct pid *tid;
	u32 vcpu;
	int ret;

	if (MISSING(info, PCOPY_A_PID, "PCOPY_A_PID") ||
	    MISSING(info, PCOPY_A_TID, "PCOPY_A_TID") ||
	    MISSING(info, PCOPY_A_VCPU, "PCOPY_A_VCPU"))
		return -EINVAL;
	vcpu = nla_get_u32(vcpu_attr);
	if (vcpu != PCOPY_VCPU_NONE && vcpu >= PCOPY_MAX_VCPUS) {
		NL_SET_ERR_MSG_ATTR(info->extack, vcpu_attr,
				    "vCPU index out of range");
		return -ERANGE;
	}

	s = session_from_info(info);
	if (IS_ERR(s))
		return PTR_ERR(s);

	tid = find_get_pid(nla_get_u32(tid_attr));
	if (tid)
		task = get_pid_task(tid, PIDTYPE_PID);
	if (!task || task_tgid(task) != s->pid) {
		NL_SET_ERR_MSG_ATTR(info->extack, tid_attr,
				    "thread does not belong to the tracked process");
		ret = -ESRCH;
		goto out;
	}
	pcopy_session_prune_threads(s);
	ret = pcopy_session_set_vcpu(s, task, vcpu);
	if (ret == -ENOSPC)
		NL_SET_ERR_MSG(info->extack, "thread table of the session is full");
out:
	if (task)
		put_task_struct(task);
	put_pid(tid);
	pcopy_session_put(s);
	return ret;
}

static int pcopy_nl_set_auto(struct sk_buff *skb, struct genl_info *info)
{
	struct pcopy_auto_config cfg = { .max = PCOPY_MAX_SESSIONS };
	struct nlattr **tb = info->attrs;
	bool on;
	int ret;

	if (MISSING(info, PCOPY_A_AUTO_ON, "PCOPY_A_AUTO_ON"))
		return -EINVAL;
	on = nla_get_u8(tb[PCOPY_A_AUTO_ON]);
	if (on) {
		/* the kernel keeps TASK_COMM_LEN - 1 characters of a name */
		if (tb[PCOPY_A_AUTO_COMM])
			nla_strscpy(cfg.comm, tb[PCOPY_A_AUTO_COMM], sizeof(cfg.comm));
		if (tb[PCOPY_A_AUTO_CGROUP])
			cfg.cgroup = nla_get_u64(tb[PCOPY_A_AUTO_CGROUP]);
		if (tb[PCOPY_A_AUTO_MAX])
			cfg.max = nla_get_u32(tb[PCOPY_A_AUTO_MAX]);
		cfg.follow_forks = nla_get_flag(tb[PCOPY_A_FOLLOW_FORKS]);
	} else if (tb[PCOPY_A_AUTO_COMM] || tb[PCOPY_A_AUTO_CGROUP] ||
		   tb[PCOPY_A_AUTO_MAX] || tb[PCOPY_A_FOLLOW_FORKS]) {
		NL_SET_ERR_MSG(info->extack, "a filter needs PCOPY_A_AUTO_ON 1");
		return -EINVAL;
	}
	if (cfg.cgroup && !IS_ENABLED(CONFIG_CGROUPS)) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[PCOPY_A_AUTO_CGROUP],
				    "this kernel is built without cgroups");
		return -EOPNOTSUPP;
	}
	if (cfg.follow_forks && pcopy_fork_error()) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[PCOPY_A_FOLLOW_FORKS],
				    "forks cannot be followed on this kernel");
		return -EOPNOTSUPP;
	}
	mutex_lock(&pcopy_sessions_lock);
	ret = pcopy_auto_set(on, &cfg, info->extack);
	mutex_unlock(&pcopy_sessions_lock);
	return ret;
}

static const struct genl_ops pcopy_ops[] = {
	{
		.cmd = PCOPY_CMD_GET_INFO,
		.flags = GENL_ADMIN_PERM,
		.doit = pcopy_nl_get_info,
	},
	{
		.cmd = PCOPY_CMD_SESSION_NEW,
		.flags = GENL_ADMIN_PERM,
		.doit = pcopy_nl_session_new,
	},
	{
		.cmd = PCOPY_CMD_SESSION_DEL,
		.flags = GENL_ADMIN_PERM,
		.doit = pcopy_nl_session_del,
	},
	{
		.cmd = PCOPY_CMD_SESSION_GET,
		.flags = GENL_ADMIN_PERM,
		.doit = pcopy_nl_session_get,
		.dumpit = pcopy_nl_session_dump,
		.done = pcopy_nl_session_dump_done,
	},
	{
		.cmd = PCOPY_CMD_SESSION_RESET,
		.flags = GENL_ADMIN_PERM,
		.doit = pcopy_nl_session_reset,
	},
	{
		.cmd = PCOPY_CMD_SET_VCPU,
		.flags = GENL_ADMIN_PERM,
		.doit = pcopy_nl_set_vcpu,
	},
	{
		.cmd = PCOPY_CMD_SET_AUTO,
		.flags = GENL_ADMIN_PERM,
		.doit = pcopy_nl_set_auto,
	},
};

static struct genl_family pcopy_family __ro_after_init = {
	.name = PCOPY_GENL_NAME,
	.version = PCOPY_GENL_VERSION,
	.maxattr = PCOPY_A_MAX,
	.policy = pcopy_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = pcopy_ops,
	.n_ops = ARRAY_SIZE(pcopy_ops),
	.mcgrps = pcopy_mcgrps,
	.n_mcgrps = ARRAY_SIZE(pcopy_mcgrps),
};

/*
 * Events go to the initial network namespace only: they name processes by
 * host pid, which a container's listener has no business seeing.  -ESRCH
 * only means nobody listens.
 */
static void notify(struct sk_buff *msg)
{
	genlmsg_multicast(&pcopy_family, msg, 0, PCOPY_MCGRP_EVENTS_IDX,
			  GFP_KERNEL);
}

void pcopy_netlink_notify_new(struct pcopy_session *s)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &pcopy_family, 0, PCOPY_CMD_SESSION_NEW);
	if (!hdr || nla_put_u32(msg, PCOPY_A_PID, s->tgid) ||
	    nla_put_u64_64bit(msg, PCOPY_A_SESSION_ID, s->id, PCOPY_A_PAD)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	notify(msg);
}

void pcopy_netlink_notify_end(struct pcopy_session *s, enum pcopy_end_reason why)
{
	struct pcopy_snapshot *snap;
	struct sk_buff *msg;
	void *hdr;

	snap = snapshot_alloc();
	if (!snap)
		return;
	pcopy_stats_snapshot(s, snap);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	hdr = genlmsg_put(msg, 0, 0, &pcopy_family, 0, PCOPY_CMD_SESSION_DEL);
	if (!hdr || nla_put_u32(msg, PCOPY_A_PID, s->tgid) ||
	    nla_put_u64_64bit(msg, PCOPY_A_SESSION_ID, s->id, PCOPY_A_PAD) ||
	    nla_put_u32(msg, PCOPY_A_END_REASON, why) ||
	    put_stats(msg, snap)) {
		nlmsg_free(msg);
		goto out;
	}
	genlmsg_end(msg, hdr);
	notify(msg);
out:
	kvfree(snap);
}

/*
 * End every session while the family can still announce it, and refuse
 * new ones: the family itself is unregistered right after.
 */
void pcopy_netlink_close(void)
{
	struct pcopy_session *s;
	unsigned long idx;

	mutex_lock(&pcopy_sessions_lock);
	pcopy_closing = true;
	xa_for_each(&pcopy_sessions, idx, s)
		pcopy_session_end(s, PCOPY_END_UNLOAD);
	mutex_unlock(&pcopy_sessions_lock);
}

int __init pcopy_netlink_init(void)
{
	return genl_register_family(&pcopy_family);
}

void pcopy_netlink_exit(void)
{
	genl_unregister_family(&pcopy_family);
}
