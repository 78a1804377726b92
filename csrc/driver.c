/* driver.c — the thread that runs every exchange of an nginx worker, so that a sync never blocks
 * nginx's event loop and needs no thread pool.
 *
 * One libcurl multi handle per process, driven by a thread of its own with libcurl's event API
 * (curl_multi_socket_action over epoll): a wake-up touches only the transfers that are ready,
 * and any number of exchanges run at once. The event loop talks to it in two directions, each
 * batching its wake-ups:
 *   - lc_driver_add() (t:submit() in csrc/transport.c) queues an easy handle and writes the
 *     driver's eventfd only when no wake-up is pending already;
 *   - the driver writes the ids of the exchanges that ended, one decimal line each, to every
 *     reader connected to its unix socket: a light thread per Lua VM of the worker
 *     (lua/leadconduit/nginx.lua), which wakes the requests of its VM that wait for them. A
 *     line "0" every HEARTBEAT_MS lets a reader notice that nginx is exiting without a read
 *     timeout in the error log.
 * The socket lives in a directory of its own (mode 0700, under $TMPDIR or /tmp), removed when
 * the process exits. A process forked after the driver started (nginx's workers are forked by
 * its master) gets a driver of its own on first use: threads do not survive a fork.
 *
 * The driver thread never touches a Lua state; the event loop's thread never touches the multi
 * handle. What an exchange found out is copied into its transport by lc_transport_finished(). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "leadconduit.h"

#define HEARTBEAT_MS 1000
#define EVENTS 64
#define MAX_READERS 64
/* Lines kept for a reader yet to connect: past this, the requests poll for their outcomes. */
#define MAX_ORPHANS 65536

typedef struct {
    char *data;
    size_t len, cap;
} bytes;

/* Shared by the event loop and the driver, under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static CURL **queued;
static size_t queued_len, queued_cap;
static int wake_pending; /* wake_fd was written and the driver has not drained it yet */
static int stopping;     /* the process is exiting (or unloading this library): the driver ends */

/* Set by driver_start() in the event loop's thread before the driver thread exists. */
static pid_t started_in;
static pthread_t driver_thread;
static char dir[108], path[120];
static int epoll_fd = -1, wake_fd = -1, listen_fd = -1;

/* A connection of a reader (nginx.lua): one per Lua VM of the worker that syncs, so one
 * unless lua_code_cache is off, which gives each request a VM of its own. */
typedef struct {
    int fd;
    bytes unsent;        /* lines not yet written to it */
    long long last_sent; /* when it last got a line, in now_ms() time */
    int watching;        /* fd is in epoll for EPOLLOUT */
} reader;

/* The driver thread's own. */
static CURLM *multi;
static reader readers[MAX_READERS];
static size_t reader_count;
static bytes orphans;            /* lines that came while no reader was connected */
static long long timer_due = -1; /* when libcurl wants CURL_SOCKET_TIMEOUT, in now_ms() time */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- libcurl's event API ------------------------------------------------------------------ */

/* CURLMOPT_SOCKETFUNCTION: keep epoll's interest in step with what libcurl waits for. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *unused, void *known)
{
    struct epoll_event ev;

    (void)easy;
    (void)unused;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(multi, fd, NULL);
        return 0;
    }
    memset(&ev, 0, sizeof ev);
    ev.data.fd = fd;
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (known != NULL)
        return epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -1;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -1;
    curl_multi_assign(multi, fd, &epoll_fd); /* any pointer but NULL: "in epoll already" */
    return 0;
}

/* CURLMOPT_TIMERFUNCTION */
static int on_timer(CURLM *unused, long ms, void *unused2)
{
    (void)unused;
    (void)unused2;
    timer_due = ms < 0 ? -1 : now_ms() + ms;
    return 0;
}

/* ---- reporting to the readers ------------------------------------------------------------- */

/* Append text to b; when memory runs out it is lost, and the request waiting for the id finds
 * its outcome by itself a little later (nginx.lua checks on its own every POLL seconds). */
static void append(bytes *b, const char *text, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        char *grown;

        while (cap < b->len + n)
            cap *= 2;
        grown = realloc(b->data, cap);
        if (grown == NULL)
            return;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, n);
    b->len += n;
}

/* Every reader gets every id: each wakes the requests of its own VM and skips the rest. */
static void report(double id)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%.0f\n", id);
    size_t i;

    if (reader_count == 0 && orphans.len + (size_t)n <= MAX_ORPHANS)
        append(&orphans, line, (size_t)n);
    for (i = 0; i < reader_count; i++)
        append(&readers[i].unsent, line, (size_t)n);
}

static void add_reader(int fd)
{
    reader *r;

    if (reader_count == MAX_READERS) {
        close(fd);
        return;
    }
    r = &readers[reader_count++];
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->last_sent = now_ms();
    /* The lines nobody could take yet go to the first reader that comes. */
    r->unsent = orphans;
    memset(&orphans, 0, sizeof orphans);
}

static void drop_reader(size_t i)
{
    /* The last reader's lines wait for the next one; the others' went to the rest as well. */
    if (reader_count == 1 && orphans.len + readers[i].unsent.len <= MAX_ORPHANS)
        append(&orphans, readers[i].unsent.data, readers[i].unsent.len);
    close(readers[i].fd); /* which also takes it out of epoll */
    free(readers[i].unsent.data);
    readers[i] = readers[--reader_count];
}

/* Write what reader i has not got yet, as far as its socket takes it without waiting, and a
 * heartbeat when it has had nothing for HEARTBEAT_MS. 0 when the reader is gone. */
static int flush_reader(size_t i)
{
    reader *r = &readers[i];
    size_t sent = 0;
    struct epoll_event ev;
    int want_out;

    if (r->unsent.len == 0 && now_ms() - r->last_sent >= HEARTBEAT_MS)
        append(&r->unsent, "0\n", 2);
    while (sent < r->unsent.len) {
        ssize_t n = send(r->fd, r->unsent.data + sent, r->unsent.len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else
            return 0;
    }
    if (sent > 0) {
        memmove(r->unsent.data, r->unsent.data + sent, r->unsent.len - sent);
        r->unsent.len -= sent;
        r->last_sent = now_ms();
    }
    /* A reader that does not keep up: epoll says when its socket takes more. */
    want_out = r->unsent.len > 0;
    if (want_out != r->watching) {
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLOUT;
        ev.data.fd = r->fd;
        epoll_ctl(epoll_fd, want_out ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, r->fd, &ev);
        r->watching = want_out;
    }
    return 1;
}

static void flush_reports(void)
{
    size_t i = 0;

    while (i < reader_count) {
        if (flush_reader(i))
            i++;
        else
            drop_reader(i); /* gone: its requests find their outcomes by themselves */
    }
}

static int is_reader(int fd)
{
    size_t i;

    for (i = 0; i < reader_count; i++)
        if (readers[i].fd == fd)
            return 1;
    return 0;
}

/* ---- the driver thread -------------------------------------------------------------------- */

/* Move the queued handles into the multi handle. */
static void take_queued(void)
{
    uint64_t count;
    CURL **batch;
    size_t i, n;

    if (read(wake_fd, &count, sizeof count) < 0) {
        /* EAGAIN: already drained */
    }
    pthread_mutex_lock(&lock);
    batch = queued;
    n = queued_len;
    queued = NULL;
    queued_len = queued_cap = 0;
    wake_pending = 0;
    pthread_mutex_unlock(&lock);
    for (i = 0; i < n; i++) {
        CURLMcode rc = curl_multi_add_handle(multi, batch[i]);

        if (rc != CURLM_OK) {
            void *t = NULL;

            curl_easy_getinfo(batch[i], CURLINFO_PRIVATE, (char **)&t);
            report(lc_transport_finished(t, rc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                                                      : CURLE_FAILED_INIT));
        }
    }
    free(batch);
}

/* Hand every exchange that ended back to its transport, and note its id for the reader. */
static void take_finished(void)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        void *t = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(multi, easy); /* msg is invalid from here on */
        report(lc_transport_finished(t, code));
    }
}

static int stop_requested(void)
{
    int stop;

    pthread_mutex_lock(&lock);
    stop = stopping;
    pthread_mutex_unlock(&lock);
    return stop;
}

static void *drive(void *unused)
{
    (void)unused;
    while (!stop_requested()) {
        struct epoll_event events[EVENTS];
        long long now = now_ms(), wait = HEARTBEAT_MS;
        int i, n, running;

        if (timer_due >= 0)
            wait = timer_due <= now ? 0 : (timer_due - now < wait ? timer_due - now : wait);
        n = epoll_wait(epoll_fd, events, EVENTS, (int)wait);
        if (timer_due >= 0 && now_ms() >= timer_due) {
            timer_due = -1;
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        for (i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            unsigned ev = events[i].events;

            if (fd == wake_fd) {
                take_queued();
            } else if (fd == listen_fd) {
                int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

                if (conn >= 0)
                    add_reader(conn);
            } else if (!is_reader(fd)) {
                curl_multi_socket_action(multi, fd,
                                         (ev & EPOLLIN ? CURL_CSELECT_IN : 0) |
                                             (ev & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                                             (ev & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0),
                                         &running);
            }
        }
        take_finished();
        flush_reports();
    }
    return NULL;
}

/* ---- starting it, once per process -------------------------------------------------------- */

/* Close the driver's descriptors and free its readers, lines and queue. The multi handle is
 * only forgotten: the caller cleans it up, or leaves alone a forked parent's. */
static void release_state(void)
{
    if (epoll_fd >= 0)
        close(epoll_fd);
    if (wake_fd >= 0)
        close(wake_fd);
    if (listen_fd >= 0)
        close(listen_fd);
    epoll_fd = wake_fd = listen_fd = -1;
    while (reader_count > 0)
        drop_reader(0);
    free(orphans.data);
    memset(&orphans, 0, sizeof orphans);
    free(queued);
    queued = NULL;
    queued_len = queued_cap = 0;
    wake_pending = 0;
    multi = NULL;
    timer_due = -1;
}

/* Stop this process's driver thread and free what it holds: at exit, or when the library is
 * unloaded (glibc runs a library's atexit handlers at its dlclose), so that the thread never
 * runs code that is gone. A process forked after the driver started has no thread to stop. */
static void stop_driver(void)
{
    uint64_t one = 1;

    if (started_in != getpid())
        return;
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_mutex_unlock(&lock);
    if (write(wake_fd, &one, sizeof one) < 0) {
        /* the counter is full: a wake-up is pending anyway */
    }
    pthread_join(driver_thread, NULL);
    started_in = 0;
    stopping = 0;
    unlink(path);
    rmdir(dir);
    /* Exchanges still running are abandoned with the process: their transports go with it. */
    curl_multi_cleanup(multi);
    release_state();
}

static int watch(int fd)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* pthread_atfork: no mutex is held by a thread that the child will not have. The two are never
 * held together, so any order is safe. */
static void before_fork(void)
{
    pthread_mutex_lock(&lock);
    lc_transport_lock();
}

static void after_fork(void)
{
    lc_transport_unlock();
    pthread_mutex_unlock(&lock);
}

/* The driver thread with every signal blocked: nginx's handlers must run on its own thread. */
static int start_thread(void)
{
    sigset_t all, saved;
    int rc;

    sigfillset(&all);
    if (pthread_sigmask(SIG_SETMASK, &all, &saved) != 0)
        return -1;
    rc = pthread_create(&driver_thread, NULL, drive, NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

/* Undo what a driver_start() that failed made, and say why (errno says more). */
static const char *start_failed(const char *why)
{
    int saved = errno;

    if (multi != NULL)
        curl_multi_cleanup(multi); /* no exchange ran on it yet */
    if (listen_fd >= 0)
        unlink(path);
    rmdir(dir);
    release_state(); /* closes what this attempt opened */
    errno = saved;
    return why;
}

/* Start this process's driver; NULL, or why it could not start (errno says more). */
static const char *driver_start(void)
{
    static int cleanup_registered;
    const char *tmp = getenv("TMPDIR");
    struct sockaddr_un addr;

    /* A process forked after the driver started keeps none of its parent's driver: its thread
     * is not here. The parent's multi handle is left alone, since cleaning it up would end the
     * parent's TLS sessions on the sockets both processes share. */
    started_in = 0;
    release_state();
    if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 60)
        tmp = "/tmp";
    snprintf(dir, sizeof dir, "%s/leadconduit-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL)
        return "cannot make a directory for its socket";
    snprintf(path, sizeof path, "%s/driver", dir);
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);

    multi = curl_multi_init();
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (multi == NULL || epoll_fd < 0 || wake_fd < 0)
        return start_failed("out of resources");
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listen_fd, 8) != 0)
        return start_failed("cannot listen on its socket");
    if (watch(wake_fd) != 0 || watch(listen_fd) != 0)
        return start_failed("out of resources");
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    /* The default, 4 x the handles added, shrinks as exchanges end: libcurl then closes
     * connections that the next exchanges open again, a TLS handshake each (bench/README.md). */
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 1024L);
    if (!cleanup_registered)
        cleanup_registered =
            atexit(stop_driver) == 0 && pthread_atfork(before_fork, after_fork, after_fork) == 0;
    if (!cleanup_registered || start_thread() != 0)
        return start_failed("cannot start its thread");
    started_in = getpid();
    return NULL;
}

const char *lc_driver_add(void *curl, void *transport)
{
    uint64_t one = 1;
    int wake;

    if (started_in != getpid())
        return "leadconduit's driver thread is not running in this process";
    curl_easy_setopt(curl, CURLOPT_PRIVATE, (char *)transport);
    pthread_mutex_lock(&lock);
    if (queued_len == queued_cap) {
        size_t cap = queued_cap ? queued_cap * 2 : 64;
        CURL **grown = realloc(queued, cap * sizeof *grown);

        if (grown == NULL) {
            pthread_mutex_unlock(&lock);
            return "out of memory";
        }
        queued = grown;
        queued_cap = cap;
    }
    queued[queued_len++] = curl;
    wake = !wake_pending;
    wake_pending = 1;
    pthread_mutex_unlock(&lock);
    /* An eventfd write fails only when its counter would overflow: it is woken then anyway. */
    if (wake && write(wake_fd, &one, sizeof one) < 0) {
    }
    return NULL;
}

/* core.driver_socket() -> the path of the unix socket this process's driver reports on,
 * starting the driver first if this process has none; nil, message when it cannot start. */
static int core_driver_socket(lua_State *L)
{
    if (started_in != getpid()) {
        const char *problem = driver_start();

        if (problem != NULL) {
            lua_pushnil(L);
            lua_pushfstring(L, "leadconduit's driver thread: %s: %s", problem, strerror(errno));
            return 2;
        }
    }
    lua_pushstring(L, path);
    return 1;
}

void lc_open_driver(lua_State *L, int core)
{
    lua_pushcfunction(L, core_driver_socket);
    lua_setfield(L, core, "driver_socket");
}
