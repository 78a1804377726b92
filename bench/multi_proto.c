/* multi_proto.c — a prototype measured by bench/nginx.lua, not part of the module: the design
 * that would replace nginx's thread pool (issue 26, point 5). One libcurl multi handle per
 * nginx worker process, driven by a thread of its own with the event API
 * (curl_multi_socket_action over epoll), so that a wake-up touches only the transfers that are
 * ready. Both directions batch their wake-ups:
 *   - submit() queues a transfer and writes the driver's eventfd only when no wake-up is
 *     pending already;
 *   - the driver writes the ids of every transfer that ended in one pass to a unix socket, read
 *     by one light thread per worker (a timer) that posts each waiting request's semaphore.
 * No Lua VM per task, no thread_pool, no VM limit.
 *
 *   proto.start(socket_path)            once per worker process, before the reader connects
 *   id = proto.submit(url, authorization, ca_file, timeout_ms)
 *   -- the reader receives the id as 4 bytes (native order) once the transfer has ended
 *   status, body | nil, curl_message = proto.result(id)
 *
 * Prototype limits: at most SLOTS transfers in flight, one reader connection, no handling of
 * fork after start(), every handle with the same headers, a failed write to the reader drops
 * the wake-up. */
#include <errno.h>
#include <pthread.h>
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
#include <lauxlib.h>
#include <lua.h>

#define SLOTS 4096
#define EVENTS 256

typedef struct {
    CURL *curl;
    struct curl_slist *headers;
    char *body;
    size_t len, cap;
    long status;
    CURLcode code;
    uint32_t id;
    int used, done;
} transfer;

/* Shared between the event loop (submit, result) and the driver, under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static transfer slots[SLOTS];
static transfer *pending[SLOTS];
static size_t npending;
static int wake_pending; /* the eventfd was written and the driver has not drained it yet */
static uint32_t next_id;
static CURL *idle[SLOTS];
static size_t nidle;

/* The driver's own. */
static CURLM *multi;
static int epoll_fd = -1, wake_fd = -1, listen_fd = -1, reader_fd = -1;
static long long timer_due = -1; /* libcurl's next timeout, in now_ms() time; -1: none */
static pid_t started_in;

static size_t on_body(char *chunk, size_t size, size_t nmemb, void *userdata)
{
    transfer *x = userdata;
    size_t n = size * nmemb;

    if (x->len + n > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16384;
        char *grown;

        while (cap < x->len + n)
            cap *= 2;
        grown = realloc(x->body, cap);
        if (grown == NULL)
            return 0;
        x->body = grown;
        x->cap = cap;
    }
    memcpy(x->body + x->len, chunk, n);
    x->len += n;
    return n;
}

/* CURLMOPT_SOCKETFUNCTION: keep epoll's interest in step with what libcurl waits for. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *unused, void *known)
{
    struct epoll_event ev;

    (void)easy;
    (void)unused;
    memset(&ev, 0, sizeof ev);
    ev.data.fd = fd;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(multi, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (known == NULL) {
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
        curl_multi_assign(multi, fd, &epoll_fd); /* any non-NULL pointer: "added" */
    } else {
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev);
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants socket_action(CURL_SOCKET_TIMEOUT) next. */
static int on_timer(CURLM *unused, long ms, void *unused2)
{
    (void)unused;
    (void)unused2;
    timer_due = ms < 0 ? -1 : now_ms() + ms;
    return 0;
}

/* Move the queued transfers into the multi handle. */
static void take_pending(void)
{
    transfer *batch[SLOTS];
    size_t i, n;
    uint64_t count;

    if (read(wake_fd, &count, sizeof count) < 0) {
        /* EAGAIN: nothing to drain */
    }
    pthread_mutex_lock(&lock);
    n = npending;
    memcpy(batch, pending, n * sizeof *batch);
    npending = 0;
    wake_pending = 0;
    pthread_mutex_unlock(&lock);
    for (i = 0; i < n; i++)
        curl_multi_add_handle(multi, batch[i]->curl);
}

/* Mark the ended transfers done and tell the reader their ids, in one write. */
static void report_done(void)
{
    uint32_t ids[EVENTS];
    size_t n = 0;
    CURLMsg *msg;
    int queued;

    /* The reader connects before the first submit(): its connection waits in the backlog. */
    if (reader_fd < 0)
        reader_fd = accept(listen_fd, NULL, NULL);
    while ((msg = curl_multi_info_read(multi, &queued)) != NULL) {
        transfer *x;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        x->code = msg->data.result;
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
        curl_multi_remove_handle(multi, msg->easy_handle);
        pthread_mutex_lock(&lock);
        x->done = 1;
        pthread_mutex_unlock(&lock);
        ids[n++] = x->id;
        if (n == EVENTS) {
            if (write(reader_fd, ids, n * sizeof *ids) < 0) { /* the reader is gone */
            }
            n = 0;
        }
    }
    if (n > 0 && write(reader_fd, ids, n * sizeof *ids) < 0) { /* the reader is gone */
    }
}

static void *driver(void *unused)
{
    (void)unused;
    for (;;) {
        struct epoll_event events[EVENTS];
        int i, n, running;

        long long wait = timer_due < 0 ? -1 : timer_due - now_ms();

        n = epoll_wait(epoll_fd, events, EVENTS, wait < 0 && timer_due >= 0 ? 0 : (int)wait);
        if (timer_due >= 0 && now_ms() >= timer_due) {
            timer_due = -1;
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        for (i = 0; i < n; i++) {
            int fd = events[i].data.fd;

            if (fd == wake_fd) {
                take_pending();
            } else if (fd == listen_fd) {
                int conn = accept(listen_fd, NULL, NULL);

                if (conn >= 0) {
                    if (reader_fd >= 0)
                        close(reader_fd);
                    reader_fd = conn;
                }
            } else {
                int mask = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                           (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                           (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

                curl_multi_socket_action(multi, fd, mask, &running);
            }
        }
        report_done();
    }
    return NULL;
}

static int watch(int fd)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static int proto_start(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct sockaddr_un addr;
    pthread_t thread;

    if (started_in == getpid())
        return 0;
    started_in = getpid();
    multi = curl_multi_init();
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    unlink(path);
    if (multi == NULL || epoll_fd < 0 || wake_fd < 0 || listen_fd < 0 ||
        bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listen_fd, 16) != 0 ||
        watch(wake_fd) != 0 || watch(listen_fd) != 0)
        return luaL_error(L, "multi_proto: cannot start: %s", strerror(errno));
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    /* The default, 4 x the handles added, shrinks as transfers end and closes connections
     * that the next transfers then make again (a TLS handshake each). */
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)SLOTS);
    if (pthread_create(&thread, NULL, driver, NULL) != 0)
        return luaL_error(L, "multi_proto: cannot start: %s", strerror(errno));
    pthread_detach(thread);
    return 0;
}

static CURL *new_handle(const char *authorization, const char *ca_file, transfer *x)
{
    CURL *curl = curl_easy_init();
    char header[512];

    if (curl == NULL)
        return NULL;
    snprintf(header, sizeof header, "Authorization: %s", authorization);
    x->headers = curl_slist_append(NULL, header);
    x->headers = curl_slist_append(x->headers, "Accept: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, x->headers); /* kept for the handle's life */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    return curl;
}

static int proto_submit(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1), *authorization = luaL_checkstring(L, 2);
    const char *ca_file = luaL_checkstring(L, 3);
    long ms = (long)luaL_checknumber(L, 4);
    uint64_t one = 1;
    transfer *x;
    CURL *curl;
    int wake;

    pthread_mutex_lock(&lock);
    x = &slots[next_id % SLOTS];
    if (x->used) {
        pthread_mutex_unlock(&lock);
        return luaL_error(L, "multi_proto: too many transfers");
    }
    x->used = 1;
    x->id = next_id++;
    curl = nidle > 0 ? idle[--nidle] : NULL;
    pthread_mutex_unlock(&lock);
    if (curl == NULL && (curl = new_handle(authorization, ca_file, x)) == NULL)
        return luaL_error(L, "multi_proto: out of memory");
    x->curl = curl;
    x->len = 0;
    x->done = 0;
    x->status = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(curl, CURLOPT_PRIVATE, (char *)x);
    pthread_mutex_lock(&lock);
    pending[npending++] = x;
    wake = !wake_pending;
    wake_pending = 1;
    pthread_mutex_unlock(&lock);
    if (wake && write(wake_fd, &one, sizeof one) < 0)
        return luaL_error(L, "multi_proto: cannot wake the driver: %s", strerror(errno));
    lua_pushinteger(L, (lua_Integer)x->id);
    return 1;
}

static int proto_result(lua_State *L)
{
    uint32_t id = (uint32_t)luaL_checkinteger(L, 1);
    transfer *x = &slots[id % SLOTS];
    int done;

    pthread_mutex_lock(&lock);
    done = x->used && x->id == id && x->done;
    pthread_mutex_unlock(&lock);
    if (!done)
        return luaL_error(L, "multi_proto: transfer %d not done", (int)id);
    if (x->code == CURLE_OK) {
        lua_pushinteger(L, x->status);
        lua_pushlstring(L, x->body, x->len);
    } else {
        lua_pushnil(L);
        lua_pushstring(L, curl_easy_strerror(x->code));
    }
    pthread_mutex_lock(&lock);
    idle[nidle++] = x->curl;
    x->used = 0;
    pthread_mutex_unlock(&lock);
    return 2;
}

int luaopen_multi_proto(lua_State *L);

int luaopen_multi_proto(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, proto_start);
    lua_setfield(L, -2, "start");
    lua_pushcfunction(L, proto_submit);
    lua_setfield(L, -2, "submit");
    lua_pushcfunction(L, proto_result);
    lua_setfield(L, -2, "result");
    return 1;
}
