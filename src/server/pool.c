//  pool.c - the worker threads of wandb-mpi-server
//  SPDX-License-Identifier: MIT
//
//  The polling thread suspends a connection whose request body is complete
//  and queues the request here; a worker parses it, runs its handler and
//  resumes the connection, and the polling thread then queues the answer.
//  So a large body or a slow transaction never holds the polling thread:
//  other connections keep being read and answered meanwhile.

#include "server/server_int.h"
#include "server/slog.h"

// Takes queued requests until told to stop.
static void *s_worker_main(void *arg)
{
    wbi_server_t *self = arg;
    pthread_mutex_lock(&self->qlock);
    for (;;) {
        while (!self->qhead && !self->qstop)
            pthread_cond_wait(&self->qcond, &self->qlock);
        if (!self->qhead)
            break;
        wbi_srv_req_t *req = self->qhead;
        self->qhead = req->next;
        if (!self->qhead)
            self->qtail = NULL;
        req->next = NULL;
        pthread_mutex_unlock(&self->qlock);
        wbi_srv_run_request(self, req);
        struct MHD_Connection *conn = req->conn;
        // The request may be freed by the polling thread once resumed.
        MHD_resume_connection(conn);
        pthread_mutex_lock(&self->qlock);
        self->in_flight--;
        pthread_cond_broadcast(&self->qidle);
    }
    pthread_mutex_unlock(&self->qlock);
    return NULL;
}

// Starts n workers (at least one).
wandb_err wbi_srv_pool_start(wbi_server_t *self, unsigned n)
{
    if (n == 0)
        n = 1;
    if (n > WBI_SRV_MAX_THREADS)
        n = WBI_SRV_MAX_THREADS;
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&self->workers[i], NULL, s_worker_main, self) != 0)
            return WANDB_EIO;
        self->nworkers++;
    }
    return WANDB_OK;
}

// Queues req; its connection is suspended until a worker has answered it.
bool wbi_srv_pool_submit(wbi_server_t *self, wbi_srv_req_t *req)
{
    pthread_mutex_lock(&self->qlock);
    if (self->qclosed || self->nworkers == 0) {
        pthread_mutex_unlock(&self->qlock);
        return false;
    }
    // Suspended before a worker can see it, so its resume cannot come first.
    MHD_suspend_connection(req->conn);
    req->next = NULL;
    if (self->qtail)
        self->qtail->next = req;
    else
        self->qhead = req;
    self->qtail = req;
    self->in_flight++;
    pthread_cond_signal(&self->qcond);
    pthread_mutex_unlock(&self->qlock);
    return true;
}

// No new jobs; waits until every job has been answered.
void wbi_srv_pool_drain(wbi_server_t *self)
{
    pthread_mutex_lock(&self->qlock);
    self->qclosed = true;
    while (self->in_flight > 0)
        pthread_cond_wait(&self->qidle, &self->qlock);
    pthread_mutex_unlock(&self->qlock);
}

// Wakes and joins the workers.
void wbi_srv_pool_stop(wbi_server_t *self)
{
    pthread_mutex_lock(&self->qlock);
    self->qclosed = true;
    self->qstop = true;
    pthread_cond_broadcast(&self->qcond);
    pthread_mutex_unlock(&self->qlock);
    for (unsigned i = 0; i < self->nworkers; i++)
        pthread_join(self->workers[i], NULL);
    self->nworkers = 0;
}
