//  zmon.h - one ZeroMQ socket-monitor event, read whole
//  SPDX-License-Identifier: MIT
//
//  A monitor (zmq_socket_monitor) sends each event as two frames: the event
//  number and value, then the endpoint. The logger and the aggregator's ZAP
//  thread both read them here. Thread: the thread that owns mon.
#ifndef WBI_COMMON_ZMON_H
#define WBI_COMMON_ZMON_H

#include <stdbool.h>
#include <stdint.h>

// Reads one event from the monitor socket mon without waiting and stores its
// number in *event. False when no event was waiting.
bool wbi_zmon_read(void *mon, uint16_t *event);

#endif
