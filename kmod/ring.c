// SPDX-License-Identifier: GPL-2.0
/*
 * The record ring: /dev/pcopy, one ring per session, shared with the
 * consumer through mmap.  uapi/pcopy.h documents the layout and protocol;
 * this file is the producer.
 *
 * Producers are the fault hooks and KVM's dirty-ring tracepoint, in any
 * task, with preemption or interrupts off (KVM fires some from
 * kvm_sched_out(), under the runqueue lock): they take raw spinlocks only,
 * never sleep, never print and never wait for the consumer.  A record that
 * does not fit is dropped and counted, and a LOST record carries the exact
 * count as soon as there is room again.
 *
 * Dirty GFNs are batched per vCPU, in a batch only that vCPU's thread
 * fills, so a dirtied page takes one uncontended lock; ring->lock is taken
 * once per batch of DIRTY_BATCH_GFNS.
 *
 * The one piece of memory the consumer writes, consumer_pos, is read once
 * per record under the lock and validated before use.  Wake-ups go through
 * irq_work, so a producer never calls into the scheduler from a hook.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "internal.h"

#define DIRTY_BATCH_GFNS 32

/*
 * One per vCPU id below PCOPY_MAX_VCPUS (higher ids go one GFN a record).
 * The lock is the owner's in practice: others take it only to flush.
 */
struct dirty_batch {
	raw_spinlock_t lock;
	u32 vcpu;
	u32 count;
	u64 first_ns;			/* coarse time of the first GFN */
	struct pcopy_dirty_gfn gfns[DIRTY_BATCH_GFNS];
};

struct pcopy_ring {
	struct pcopy_session *s;	/* referenced */
	void *area;			/* consumer page, header page, data */
	struct pcopy_ring_consumer *cons;
	struct pcopy_ring_header *hdr;
	void *data;
	u64 size;
	u32 watermark;
	u32 flags;			/* enum pcopy_ring_bind_flags */

	raw_spinlock_t lock;		/* the producer side, all below */
	u64 prod;			/* authoritative producer position */
	u64 woken_cons;			/* consumer position at the last wake */
	bool woken;
	bool eof;
	bool cons_invalid;
	u64 records;
	u64 lost_records, lost_gfns;
	u64 pend_records, pend_gfns;
	u64 consumer_errors;
	struct dirty_batch *batch;	/* PCOPY_MAX_VCPUS, vmalloc()ed */

	wait_queue_head_t wq;
	struct irq_work wake_work;
};

/* Per open file of /dev/pcopy. */
struct ring_file {
	struct mutex lock;		/* binding */
	struct pcopy_ring *ring;
};

static void ring_wake_fn(struct irq_work *work)
{
	struct pcopy_ring *r = container_of(work, struct pcopy_ring, wake_work);

	wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLRDNORM);
}

/* Mirror the private counters into the header the consumer reads. */
static void ring_publish_counters(struct pcopy_ring *r)
{
	struct pcopy_ring_header *h = r->hdr;

	lockdep_assert_held(&r->lock);
	WRITE_ONCE(h->records, r->records);
	WRITE_ONCE(h->lost_records, r->lost_records);
	WRITE_ONCE(h->lost_gfns, r->lost_gfns);
	WRITE_ONCE(h->lost_records_pending, r->pend_records);
	WRITE_ONCE(h->lost_gfns_pending, r->pend_gfns);
	WRITE_ONCE(h->consumer_errors, r->consumer_errors);
	/*
	 * Last, and a release: a consumer that sees EOF sees the final
	 * producer_pos.  Pairs with __atomic_load_n(ACQUIRE) of flags in
	 * agent/observe/ring.c ring_eof().
	 */
	smp_store_release(&h->flags, (r->eof ? PCOPY_RING_F_EOF : 0) |
			  (r->cons_invalid ? PCOPY_RING_F_CONSUMER_INVALID : 0));
}

/*
 * The consumer position, validated: it must be 8-byte aligned and no more
 * than a ring's worth behind the producer.  Anything else is garbage: the
 * ring is treated as full (-1) until a sane value comes back.
 */
static u64 ring_cons(struct pcopy_ring *r)
{
	/* pairs with __atomic_store_n(RELEASE) in agent/observe/ring.c ring_consume() */
	u64 cons = smp_load_acquire(&r->cons->consumer_pos);

	lockdep_assert_held(&r->lock);
	if ((cons & 7) || r->prod - cons > r->size) {
		/* no printk here: we may be under the runqueue lock */
		if (!r->cons_invalid) {
			r->cons_invalid = true;
			r->consumer_errors++;
		}
		return U64_MAX;
	}
	r->cons_invalid = false;
	return cons;
}

/*
 * Room for a record of @len bytes at the producer position, padding the
 * end of the data area first if the record would cross it.  Returns the
 * record's address, or NULL if it does not fit.
 */
static void *ring_reserve(struct pcopy_ring *r, u32 len, u64 cons)
{
	u64 off = r->prod & (r->size - 1);
	u64 tail = r->size - off;
	u64 need = len + (tail < len ? tail : 0);
	void *rec;

	lockdep_assert_held(&r->lock);
	if (cons == U64_MAX || r->size - (r->prod - cons) < need)
		return NULL;
	if (tail < len) {
		struct pcopy_rec_hdr *pad = r->data + off;

		pad->len = tail;
		pad->type = PCOPY_REC_PAD;
		pad->flags = 0;
		r->prod += tail;
		off = 0;
	}
	rec = r->data + off;
	r->prod += len;
	return rec;
}

static void ring_commit(struct pcopy_ring *r, u64 cons)
{
	lockdep_assert_held(&r->lock);
	ring_publish_counters(r);
	/* pairs with __atomic_load_n(ACQUIRE) in agent/observe/ring.c ring_consume() */
	smp_store_release(&r->hdr->producer_pos, r->prod);

	/* wake once per consumer progress when the watermark is reached */
	if (r->prod - cons >= r->watermark && (!r->woken || r->woken_cons != cons)) {
		r->woken = true;
		r->woken_cons = cons;
		irq_work_queue(&r->wake_work);
	}
}

/*
 * Write one record of @len bytes from @src, preceded by a LOST record if
 * drops are pending.  On failure the record is counted as @lost_records
 * fault records and @lost_gfns dirty GFNs.
 */
static void ring_write(struct pcopy_ring *r, const void *src, u32 len,
		       u64 lost_records, u64 lost_gfns)
{
	u64 cons = ring_cons(r);
	void *rec;

	lockdep_assert_held(&r->lock);
	if (r->eof)
		return;

	if (r->pend_records || r->pend_gfns) {
		struct pcopy_rec_lost *l = ring_reserve(r, sizeof(*l), cons);

		if (!l)
			goto drop;
		l->hdr = (struct pcopy_rec_hdr){ .len = sizeof(*l), .type = PCOPY_REC_LOST };
		l->records = r->pend_records;
		l->gfns = r->pend_gfns;
		r->pend_records = 0;
		r->pend_gfns = 0;
	}
	rec = ring_reserve(r, len, cons);
	if (!rec)
		goto drop;
	memcpy(rec, src, len);
	r->records++;
	ring_commit(r, cons);
	return;

drop:
	r->pend_records += lost_records;
	r->pend_gfns += lost_gfns;
	r->lost_records += lost_records;
	r->lost_gfns += lost_gfns;
	atomic64_add(lost_records, &r->s->ring_lost_records);
	atomic64_add(lost_gfns, &r->s->ring_lost_gfns);
	ring_commit(r, cons);
}

/* A record that counts as one lost record if dropped; takes r->lock. */
static void ring_write_locked(struct pcopy_ring *r, const void *src, u32 len)
{
	unsigned long irqf;

	raw_spin_lock_irqsave(&r->lock, irqf);
	ring_write(r, src, len, 1, 0);
	raw_spin_unlock_irqrestore(&r->lock, irqf);
}

void pcopy_ring_fault(struct pcopy_session *s, const struct pcopy_fault *f,
		      u16 type, u16 flags, u64 end)
{
	struct pcopy_rec_fault rec = {
		.hdr = { .len = sizeof(rec), .type = type, .flags = flags },
		.tid = f->tid,
		.vcpu = f->vcpu,
		.addr = f->addr,
		.start_ns = f->start,
		.end_ns = end,
		.latency_ns = end ? end - f->start : 0,
		.reason = f->reason,
	};
	struct pcopy_ring *r;

	rcu_read_lock();
	r = rcu_dereference(s->ring);
	if (r && (r->flags & PCOPY_RING_BIND_FAULTS))
		ring_write_locked(r, &rec, sizeof(rec));
	rcu_read_unlock();
}

/* Report pending drops now, if there is room for the LOST record. */
static void ring_report_lost(struct pcopy_ring *r)
{
	struct pcopy_rec_lost *l;
	u64 cons;

	lockdep_assert_held(&r->lock);
	if (!r->pend_records && !r->pend_gfns)
		return;
	cons = ring_cons(r);
	l = r->eof ? NULL : ring_reserve(r, sizeof(*l), cons);
	if (l) {
		l->hdr = (struct pcopy_rec_hdr){ .len = sizeof(*l), .type = PCOPY_REC_LOST };
		l->records = r->pend_records;
		l->gfns = r->pend_gfns;
		r->pend_records = 0;
		r->pend_gfns = 0;
	}
	ring_commit(r, cons);
}

/*
 * @records fault records of @s were never produced (the probe missed
 * them): account them as lost, with a LOST record right away.
 */
void pcopy_ring_lost(struct pcopy_session *s, u64 records)
{
	struct pcopy_ring *r;
	unsigned long irqf;

	rcu_read_lock();
	r = rcu_dereference(s->ring);
	if (r && (r->flags & PCOPY_RING_BIND_FAULTS)) {
		raw_spin_lock_irqsave(&r->lock, irqf);
		if (!r->eof) {
			r->pend_records += records;
			r->lost_records += records;
			atomic64_add(records, &s->ring_lost_records);
			ring_report_lost(r);
		}
		raw_spin_unlock_irqrestore(&r->lock, irqf);
	}
	rcu_read_unlock();
}

/* Emit @b's GFNs as one record.  Called with b->lock; takes r->lock. */
static void batch_flush(struct pcopy_ring *r, struct dirty_batch *b)
{
	struct {
		struct pcopy_rec_dirty rec;
		struct pcopy_dirty_gfn gfns[DIRTY_BATCH_GFNS];
	} out;
	unsigned long irqf;
	u32 len;

	lockdep_assert_held(&b->lock);
	if (!b->count)
		return;
	len = sizeof(out.rec) + b->count * sizeof(out.gfns[0]);
	out.rec.hdr = (struct pcopy_rec_hdr){ .len = len, .type = PCOPY_REC_DIRTY };
	out.rec.vcpu = b->vcpu;
	out.rec.count = b->count;
	/* per batch, and coarse: see pcopy_stats_dirty() */
	out.rec.time_ns = ktime_get_coarse_ns();
	memcpy(out.gfns, b->gfns, b->count * sizeof(out.gfns[0]));
	raw_spin_lock_irqsave(&r->lock, irqf);
	ring_write(r, &out, len, 0, b->count);
	raw_spin_unlock_irqrestore(&r->lock, irqf);
	b->count = 0;
}

/* One GFN KVM pushed to vCPU @vcpu's dirty ring; RCU read side held. */
void pcopy_ring_dirty(struct pcopy_session *s, u32 vcpu, u32 slot, u64 offset,
		      u32 seq)
{
	struct pcopy_ring *r = rcu_dereference(s->ring);
	struct dirty_batch *b;
	unsigned long irqf;

	if (!r || !(r->flags & PCOPY_RING_BIND_DIRTY))
		return;
	if (vcpu >= PCOPY_MAX_VCPUS) {
		/* no batch of its own: a record of one GFN */
		struct {
			struct pcopy_rec_dirty rec;
			struct pcopy_dirty_gfn gfn;
		} one = {
			.rec.hdr = { .len = sizeof(one), .type = PCOPY_REC_DIRTY },
			.rec.vcpu = vcpu,
			.rec.count = 1,
			.rec.time_ns = ktime_get_coarse_ns(),
			.gfn = { .slot = slot, .seq = seq, .offset = offset },
		};

		raw_spin_lock_irqsave(&r->lock, irqf);
		ring_write(r, &one, sizeof(one), 0, 1);
		raw_spin_unlock_irqrestore(&r->lock, irqf);
		return;
	}
	b = &r->batch[vcpu];
	raw_spin_lock_irqsave(&b->lock, irqf);
	b->vcpu = vcpu;
	if (!b->count)
		WRITE_ONCE(b->first_ns, ktime_get_coarse_ns());
	b->gfns[b->count].slot = slot;
	b->gfns[b->count].seq = seq;
	b->gfns[b->count].offset = offset;
	WRITE_ONCE(b->count, b->count + 1);
	if (b->count == DIRTY_BATCH_GFNS)
		batch_flush(r, b);
	raw_spin_unlock_irqrestore(&b->lock, irqf);
}

/*
 * The VMM reset vCPU @vcpu's dirty ring up to @reset_index: emit the
 * vCPU's pending GFNs first, so the reset record follows every push it
 * covers.  RCU held.
 */
void pcopy_ring_dirty_reset(struct pcopy_session *s, u32 vcpu, u32 reset_index)
{
	struct pcopy_ring *r = rcu_dereference(s->ring);
	struct pcopy_rec_dirty_reset rec = {
		.hdr = { .len = sizeof(rec), .type = PCOPY_REC_DIRTY_RESET },
		.vcpu = vcpu,
		.reset_index = reset_index,
	};
	unsigned long bf;

	if (!r || !(r->flags & PCOPY_RING_BIND_DIRTY))
		return;
	rec.time_ns = ktime_get_coarse_ns();
	if (vcpu < PCOPY_MAX_VCPUS) {
		struct dirty_batch *b = &r->batch[vcpu];

		/* the batch lock keeps new pushes behind the reset record */
		raw_spin_lock_irqsave(&b->lock, bf);
		batch_flush(r, b);
		ring_write_locked(r, &rec, sizeof(rec));
		raw_spin_unlock_irqrestore(&b->lock, bf);
	} else {
		ring_write_locked(r, &rec, sizeof(rec));
	}
}

/*
 * vCPU @vcpu is about to enter the guest: emit its batch if it is a tick
 * old.  Where every dirtied page costs an exit (no PML: nested, or shadow
 * paging), flushing at every entry would make each GFN its own record;
 * waiting a tick lets batches fill while bounding how late a GFN is.
 * RCU held.
 */
void pcopy_ring_vcpu_entry(struct pcopy_session *s, u32 vcpu)
{
	struct pcopy_ring *r = rcu_dereference(s->ring);
	struct dirty_batch *b;
	unsigned long irqf;

	if (!r || !(r->flags & PCOPY_RING_BIND_DIRTY))
		return;
	b = &r->batch[vcpu];
	/* racy peek: the common case is an empty or young batch */
	if (!READ_ONCE(b->count) ||
	    ktime_get_coarse_ns() - READ_ONCE(b->first_ns) < TICK_NSEC)
		return;
	raw_spin_lock_irqsave(&b->lock, irqf);
	batch_flush(r, b);
	raw_spin_unlock_irqrestore(&b->lock, irqf);
}

/* Process context: every batch, then pending drops. */
static void ring_flush(struct pcopy_ring *r)
{
	unsigned long irqf;
	unsigned int i;

	for (i = 0; i < PCOPY_MAX_VCPUS; i++) {
		struct dirty_batch *b = &r->batch[i];

		if (!READ_ONCE(b->count))
			continue;
		raw_spin_lock_irqsave(&b->lock, irqf);
		batch_flush(r, b);
		raw_spin_unlock_irqrestore(&b->lock, irqf);
		cond_resched();
	}
	raw_spin_lock_irqsave(&r->lock, irqf);
	ring_report_lost(r);
	raw_spin_unlock_irqrestore(&r->lock, irqf);
}

/*
 * The session ended.  Called under pcopy_sessions_lock after the session
 * left the tables and an RCU grace period passed, so no hook that looked
 * the session up can still produce; faults still blocked may, and their
 * records are discarded once EOF is set.
 */
void pcopy_ring_session_end(struct pcopy_session *s)
{
	struct pcopy_ring *r;
	unsigned long irqf;

	r = rcu_dereference_protected(s->ring, lockdep_is_held(&pcopy_sessions_lock));
	if (!r)
		return;
	ring_flush(r);
	raw_spin_lock_irqsave(&r->lock, irqf);
	r->eof = true;
	ring_publish_counters(r);
	raw_spin_unlock_irqrestore(&r->lock, irqf);
	wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLHUP);
}

static int ring_bind(struct ring_file *rf, struct pcopy_ring_bind __user *ubind)
{
	struct pcopy_ring_bind b;
	struct pcopy_session *s;
	struct pcopy_ring *r;
	unsigned int i;
	u64 size;
	int ret;

	if (copy_from_user(&b, ubind, sizeof(b)))
		return -EFAULT;
	if (b.reserved[0] || b.reserved[1] || !b.flags ||
	    (b.flags & ~__PCOPY_RING_BIND_ALL) ||
	    !b.data_pages || b.data_pages > PCOPY_RING_MAX_PAGES ||
	    !is_power_of_2(b.data_pages))
		return -EINVAL;
	size = (u64)b.data_pages << PAGE_SHIFT;
	if (!b.watermark || b.watermark > size)
		return -EINVAL;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->batch = vzalloc(array_size(PCOPY_MAX_VCPUS, sizeof(*r->batch)));
	if (!r->batch) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i < PCOPY_MAX_VCPUS; i++)
		raw_spin_lock_init(&r->batch[i].lock);
	r->area = vmalloc_user((2 + (size_t)b.data_pages) << PAGE_SHIFT);
	if (!r->area) {
		ret = -ENOMEM;
		goto err_free;
	}
	r->cons = r->area;
	r->hdr = r->area + PAGE_SIZE;
	r->data = r->area + 2 * PAGE_SIZE;
	r->size = size;
	r->watermark = b.watermark;
	r->flags = b.flags;
	raw_spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wq);
	init_irq_work(&r->wake_work, ring_wake_fn);
	r->hdr->version = PCOPY_RING_VERSION;
	r->hdr->header_size = sizeof(*r->hdr);
	r->hdr->data_offset = PAGE_SIZE;
	r->hdr->data_size = size;
	r->hdr->watermark = b.watermark;
	r->hdr->page_size = PAGE_SIZE;

	mutex_lock(&rf->lock);
	if (rf->ring) {
		ret = -EBUSY;
		goto err_unlock_file;
	}
	mutex_lock(&pcopy_sessions_lock);
	s = pcopy_session_lookup(b.pid);
	if (!s || !s->live) {
		ret = -EINVAL;
		goto err_unlock;
	}
	if (rcu_access_pointer(s->ring)) {
		ret = -EBUSY;
		goto err_unlock;
	}
	pcopy_session_get(s);
	r->s = s;
	rcu_assign_pointer(s->ring, r);
	mutex_unlock(&pcopy_sessions_lock);
	/* pairs with smp_load_acquire() in ring_poll() */
	smp_store_release(&rf->ring, r);
	mutex_unlock(&rf->lock);
	return 0;

err_unlock:
	mutex_unlock(&pcopy_sessions_lock);
err_unlock_file:
	mutex_unlock(&rf->lock);
err_free:
	vfree(r->area);
	vfree(r->batch);
	kfree(r);
	return ret;
}

static long ring_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct ring_file *rf = file->private_data;
	struct pcopy_ring *r;

	switch (cmd) {
	case PCOPY_IOC_BIND:
		return ring_bind(rf, (struct pcopy_ring_bind __user *)arg);
	case PCOPY_IOC_FLUSH:
		mutex_lock(&rf->lock);
		r = rf->ring;
		if (r)
			ring_flush(r);
		mutex_unlock(&rf->lock);
		return r ? 0 : -EINVAL;
	}
	return -ENOTTY;
}

static int ring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ring_file *rf = file->private_data;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct pcopy_ring *r;
	int ret = -EINVAL;

	mutex_lock(&rf->lock);
	r = rf->ring;
	if (!r || !(vma->vm_flags & VM_SHARED) ||
	    vma->vm_pgoff > PCOPY_RING_PGOFF_PRODUCER)
		goto out;
	if (vma->vm_pgoff == PCOPY_RING_PGOFF_CONSUMER) {
		if (len != PAGE_SIZE ||
		    (vma->vm_flags & (VM_READ | VM_WRITE)) != (VM_READ | VM_WRITE))
			goto out;
		ret = remap_vmalloc_range(vma, r->area, 0);
	} else {
		if (len != PAGE_SIZE + r->size || (vma->vm_flags & VM_WRITE))
			goto out;
		/* and never later, through mprotect() */
		pcopy_vm_flags_clear(vma, VM_MAYWRITE);
		ret = remap_vmalloc_range(vma, r->area, 1);
	}
out:
	mutex_unlock(&rf->lock);
	return ret;
}

static __poll_t ring_poll(struct file *file, struct poll_table_struct *pt)
{
	struct ring_file *rf = file->private_data;
	/* pairs with smp_store_release() in ring_bind() */
	struct pcopy_ring *r = smp_load_acquire(&rf->ring);
	__poll_t mask = 0;
	unsigned long irqf;
	u64 cons;

	if (!r)
		return EPOLLERR;
	poll_wait(file, &r->wq, pt);
	raw_spin_lock_irqsave(&r->lock, irqf);
	cons = ring_cons(r);
	if (cons == U64_MAX)
		mask |= EPOLLERR;
	else if (r->prod - cons >= r->watermark || (r->eof && r->prod != cons))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (r->eof)
		mask |= EPOLLHUP;
	/* re-arm: the next record above the watermark wakes us again */
	r->woken = false;
	ring_publish_counters(r);
	raw_spin_unlock_irqrestore(&r->lock, irqf);
	return mask;
}

static int ring_open(struct inode *inode, struct file *file)
{
	struct ring_file *rf;

	if (!capable(CAP_NET_ADMIN))
		return -EPERM;
	rf = kzalloc(sizeof(*rf), GFP_KERNEL);
	if (!rf)
		return -ENOMEM;
	mutex_init(&rf->lock);
	file->private_data = rf;
	return 0;
}

/* The last mapping is gone too: the file outlives every vma on it. */
static int ring_release(struct inode *inode, struct file *file)
{
	struct ring_file *rf = file->private_data;
	struct pcopy_ring *r = rf->ring;

	if (r) {
		mutex_lock(&pcopy_sessions_lock);
		if (rcu_access_pointer(r->s->ring) == r)
			RCU_INIT_POINTER(r->s->ring, NULL);
		mutex_unlock(&pcopy_sessions_lock);
		/* producers look the ring up under RCU */
		synchronize_rcu();
		irq_work_sync(&r->wake_work);
		pcopy_session_put(r->s);
		vfree(r->area);
		vfree(r->batch);
		kfree(r);
	}
	kfree(rf);
	return 0;
}

static const struct file_operations ring_fops = {
	.owner		= THIS_MODULE,
	.open		= ring_open,
	.release	= ring_release,
	.unlocked_ioctl	= ring_ioctl,
	/* the argument is a pointer to a layout-neutral struct, or none */
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= ring_mmap,
	.poll		= ring_poll,
	.llseek		= noop_llseek,
};

static struct miscdevice ring_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "pcopy",
	.fops	= &ring_fops,
	.mode	= 0600,
};

int __init pcopy_ring_init(void)
{
	BUILD_BUG_ON(sizeof(struct pcopy_ring_header) > PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct pcopy_ring_header) != 104);
	BUILD_BUG_ON(sizeof(struct pcopy_ring_bind) != 32);
	BUILD_BUG_ON(sizeof(struct pcopy_rec_fault) % 8);
	BUILD_BUG_ON(sizeof(struct pcopy_rec_dirty) % 8);
	BUILD_BUG_ON(sizeof(struct pcopy_rec_lost) % 8);
	BUILD_BUG_ON(sizeof(struct pcopy_rec_dirty_reset) % 8);
	BUILD_BUG_ON(sizeof(struct pcopy_dirty_gfn) != 16);
	return misc_register(&ring_dev);
}

void pcopy_ring_exit(void)
{
	misc_deregister(&ring_dev);
}
