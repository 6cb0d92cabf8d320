// SPDX-License-Identifier: GPL-2.0
/*
 * The record ring: /dev/pcopy, one ring per session, shared with the
 * consumer through mmap.  uapi/pcopy.h documents the layout and protocol;
 * this file is the producer.
 *
 * Producers are the fault hooks and KVM's dirty-ring tracepoint, in any
 * task, with preemption or interrupts off: they take ring->lock (never
 * contended for long), never sleep and never wait for the consumer.  A
 * record that does not fit is dropped and counted, and a LOST record
 * carries the exact count as soon as there is room again.
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
#define DIRTY_BATCHES 8

struct dirty_batch {
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

	spinlock_t lock;		/* the producer side, all below */
	u64 prod;			/* authoritative producer position */
	u64 woken_cons;			/* consumer position at the last wake */
	bool woken;
	bool eof;
	bool cons_invalid;
	u64 records;
	u64 lost_records, lost_gfns;
	u64 pend_records, pend_gfns;
	u64 consumer_errors;
	struct dirty_batch batch[DIRTY_BATCHES];

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
	 * agent/ring.c ring_eof().
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
	/* pairs with __atomic_store_n(RELEASE) in agent/ring.c ring_consume() */
	u64 cons = smp_load_acquire(&r->cons->consumer_pos);

	lockdep_assert_held(&r->lock);
	if ((cons & 7) || r->prod - cons > r->size) {
		if (!r->cons_invalid) {
			r->cons_invalid = true;
			r->consumer_errors++;
			pr_warn_ratelimited("pid %d: ring consumer position %#llx is invalid (producer at %#llx)\n",
					    r->s->tgid, cons, r->prod);
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
	/* pairs with __atomic_load_n(ACQUIRE) in agent/ring.c ring_consume() */
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
	ring_commit(r, cons);
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
	unsigned long irqf;

	rcu_read_lock();
	r = rcu_dereference(s->ring);
	if (r && (r->flags & PCOPY_RING_BIND_FAULTS)) {
		spin_lock_irqsave(&r->lock, irqf);
		ring_write(r, &rec, sizeof(rec), 1, 0);
		spin_unlock_irqrestore(&r->lock, irqf);
	}
	rcu_read_unlock();
}

static void batch_flush(struct pcopy_ring *r, struct dirty_batch *b)
{
	struct {
		struct pcopy_rec_dirty rec;
		struct pcopy_dirty_gfn gfns[DIRTY_BATCH_GFNS];
	} out;
	u32 len;

	lockdep_assert_held(&r->lock);
	if (!b->count)
		return;
	len = sizeof(out.rec) + b->count * sizeof(out.gfns[0]);
	out.rec.hdr = (struct pcopy_rec_hdr){ .len = len, .type = PCOPY_REC_DIRTY };
	out.rec.vcpu = b->vcpu;
	out.rec.count = b->count;
	/* per batch, and coarse: see pcopy_stats_dirty() */
	out.rec.time_ns = ktime_get_coarse_ns();
	memcpy(out.gfns, b->gfns, b->count * sizeof(out.gfns[0]));
	ring_write(r, &out, len, 0, b->count);
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
	b = &r->batch[vcpu % DIRTY_BATCHES];
	spin_lock_irqsave(&r->lock, irqf);
	if (b->count && b->vcpu != vcpu)
		batch_flush(r, b);
	b->vcpu = vcpu;
	if (!b->count)
		b->first_ns = ktime_get_coarse_ns();
	b->gfns[b->count].slot = slot;
	b->gfns[b->count].seq = seq;
	b->gfns[b->count].offset = offset;
	if (++b->count == DIRTY_BATCH_GFNS)
		batch_flush(r, b);
	spin_unlock_irqrestore(&r->lock, irqf);
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
	struct dirty_batch *b;
	unsigned long irqf;

	if (!r || !(r->flags & PCOPY_RING_BIND_DIRTY))
		return;
	b = &r->batch[vcpu % DIRTY_BATCHES];
	rec.time_ns = ktime_get_coarse_ns();
	spin_lock_irqsave(&r->lock, irqf);
	if (b->count && b->vcpu == vcpu)
		batch_flush(r, b);
	/* dropped resets are counted as records */
	ring_write(r, &rec, sizeof(rec), 1, 0);
	spin_unlock_irqrestore(&r->lock, irqf);
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

	if (!r)
		return;
	b = &r->batch[vcpu % DIRTY_BATCHES];
	/* racy peek: the common case is an empty or young batch */
	if (!READ_ONCE(b->count) || READ_ONCE(b->vcpu) != vcpu ||
	    ktime_get_coarse_ns() - READ_ONCE(b->first_ns) < TICK_NSEC)
		return;
	spin_lock_irqsave(&r->lock, irqf);
	if (b->count && b->vcpu == vcpu)
		batch_flush(r, b);
	spin_unlock_irqrestore(&r->lock, irqf);
}

static void ring_flush(struct pcopy_ring *r)
{
	unsigned long irqf;
	unsigned int i;

	spin_lock_irqsave(&r->lock, irqf);
	for (i = 0; i < DIRTY_BATCHES; i++)
		batch_flush(r, &r->batch[i]);
	/* report pending drops now if there is room for the LOST record */
	if (r->pend_records || r->pend_gfns) {
		u64 cons = ring_cons(r);
		struct pcopy_rec_lost *l = r->eof ? NULL : ring_reserve(r, sizeof(*l), cons);

		if (l) {
			l->hdr = (struct pcopy_rec_hdr){ .len = sizeof(*l), .type = PCOPY_REC_LOST };
			l->records = r->pend_records;
			l->gfns = r->pend_gfns;
			r->pend_records = 0;
			r->pend_gfns = 0;
		}
		ring_commit(r, cons);
	}
	spin_unlock_irqrestore(&r->lock, irqf);
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
	spin_lock_irqsave(&r->lock, irqf);
	r->eof = true;
	ring_publish_counters(r);
	spin_unlock_irqrestore(&r->lock, irqf);
	wake_up_interruptible_poll(&r->wq, EPOLLIN | EPOLLHUP);
}

static int ring_bind(struct ring_file *rf, struct pcopy_ring_bind __user *ubind)
{
	struct pcopy_ring_bind b;
	struct pcopy_session *s;
	struct pcopy_ring *r;
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
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wq);
	init_irq_work(&r->wake_work, ring_wake_fn);
	r->hdr->version = PCOPY_RING_VERSION;
	r->hdr->header_size = sizeof(*r->hdr);
	r->hdr->data_offset = PAGE_SIZE;
	r->hdr->data_size = size;
	r->hdr->watermark = b.watermark;

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
	rf->ring = r;
	mutex_unlock(&rf->lock);
	return 0;

err_unlock:
	mutex_unlock(&pcopy_sessions_lock);
err_unlock_file:
	mutex_unlock(&rf->lock);
	vfree(r->area);
err_free:
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
	unsigned long off = vma->vm_pgoff << PAGE_SHIFT;
	struct pcopy_ring *r;
	int ret = -EINVAL;

	mutex_lock(&rf->lock);
	r = rf->ring;
	if (!r || !(vma->vm_flags & VM_SHARED) ||
	    vma->vm_pgoff > (PCOPY_RING_OFF_PRODUCER >> PAGE_SHIFT))
		goto out;
	if (off == PCOPY_RING_OFF_CONSUMER) {
		if (len != PAGE_SIZE ||
		    (vma->vm_flags & (VM_READ | VM_WRITE)) != (VM_READ | VM_WRITE))
			goto out;
		ret = remap_vmalloc_range(vma, r->area, 0);
	} else if (off == PCOPY_RING_OFF_PRODUCER) {
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
	struct pcopy_ring *r = READ_ONCE(rf->ring);
	__poll_t mask = 0;
	unsigned long irqf;
	u64 cons;

	if (!r)
		return EPOLLERR;
	poll_wait(file, &r->wq, pt);
	spin_lock_irqsave(&r->lock, irqf);
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
	spin_unlock_irqrestore(&r->lock, irqf);
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
	BUILD_BUG_ON(PCOPY_RING_OFF_PRODUCER != PAGE_SIZE);
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
