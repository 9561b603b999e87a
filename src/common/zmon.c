//  zmon.c - one ZeroMQ socket-monitor event, read whole
//  SPDX-License-Identifier: MIT
#include "common/zmon.h"
#include <string.h>
#include <zmq.h>

bool wbi_zmon_read(void *mon, uint16_t *event)
{
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ev);
        return false;
    }
    *event = 0;
    if (zmq_msg_size(&ev) >= 2)
        memcpy(event, zmq_msg_data(&ev), sizeof *event);
    bool more = zmq_msg_more(&ev);
    zmq_msg_close(&ev);
    while (more) { // the endpoint frame
        zmq_msg_t part;
        zmq_msg_init(&part);
        more = zmq_msg_recv(&part, mon, 0) >= 0 && zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    return true;
}
