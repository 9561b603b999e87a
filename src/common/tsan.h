//  tsan.h - ThreadSanitizer annotations for buffers handed over by libzmq
//  SPDX-License-Identifier: MIT
//
//  libzmq is not instrumented: a zmq_msg_t filled on one thread and received
//  on another (inproc passes the same buffer) looks like a race to TSan.
//  The sender releases the buffer before zmq_msg_send, the receiver acquires
//  it after zmq_msg_recv: that is exactly the happens-before libzmq gives.
//  Empty outside TSan builds.
#ifndef WBI_TSAN_H
#define WBI_TSAN_H

#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define WBI_TSAN_RELEASE(addr) __tsan_release(addr)
#define WBI_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define WBI_TSAN_RELEASE(addr) ((void)(addr))
#define WBI_TSAN_ACQUIRE(addr) ((void)(addr))
#endif

#endif
