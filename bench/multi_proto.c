/* multi_proto.c — a prototype measured by bench/nginx.lua, not part of the module: the design
 * that would replace nginx's thread pool (issue 26, point 5). One libcurl multi handle per
 * nginx worker process, driven by a thread of its own (curl_multi_poll, woken by
 * curl_multi_wakeup); each waiting request parks on a unix-socket cosocket, to which the thread
 * writes one byte when that request's transfer ends. No Lua VM per task, no thread_pool.
 *
 *   proto.start(socket_path)            once per worker process
 *   id = proto.submit(url, authorization, ca_file, timeout_ms)
 *   -- send the id ("%08x") on a unix-socket cosocket, receive 1 byte
 *   status, body | nil, curl_message = proto.result(id)
 *
 * Prototype limits: at most SLOTS transfers in flight, ids read whole from the socket, every
 * handle with the same headers. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>

#define SLOTS 4096
#define MAX_CONNS 1024

typedef struct {
    CURL *curl;
    struct curl_slist *headers;
    char *body;
    size_t len, cap;
    long status;
    CURLcode code;
    unsigned id;
    int used, done, waiter; /* waiter: the fd of the parked request's connection, or -1 */
} transfer;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static transfer slots[SLOTS];
static transfer *pending[SLOTS];
static size_t npending;
static unsigned next_id;
static CURLM *multi;
static int listen_fd = -1;
static pid_t started_in;
static CURL *idle[SLOTS];
static size_t nidle;

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

static void wake(int fd)
{
    char byte = 1;

    if (fd >= 0 && write(fd, &byte, 1) < 0) {
        /* the request went away: nothing to wake */
    }
}

static void *driver(void *unused)
{
    int conns[MAX_CONNS];
    size_t nconns = 0;

    (void)unused;
    for (;;) {
        struct curl_waitfd fds[MAX_CONNS + 1];
        size_t i, n = 0;
        int running, queued;
        CURLMsg *msg;

        fds[n].fd = listen_fd;
        fds[n].events = CURL_WAIT_POLLIN;
        fds[n++].revents = 0;
        for (i = 0; i < nconns; i++) {
            fds[n].fd = conns[i];
            fds[n].events = CURL_WAIT_POLLIN;
            fds[n++].revents = 0;
        }
        curl_multi_poll(multi, fds, (unsigned)n, 1000, NULL);
        if (fds[0].revents & CURL_WAIT_POLLIN) {
            int fd = accept(listen_fd, NULL, NULL);

            if (fd >= 0 && nconns < MAX_CONNS)
                conns[nconns++] = fd;
            else if (fd >= 0)
                close(fd);
        }
        for (i = 1; i < n; i++) {
            char text[9];
            ssize_t got;

            if (!(fds[i].revents & CURL_WAIT_POLLIN))
                continue;
            got = read(fds[i].fd, text, 8);
            if (got != 8) {
                size_t k;

                close(fds[i].fd);
                for (k = 0; k < nconns; k++)
                    if (conns[k] == fds[i].fd)
                        conns[k] = conns[--nconns];
                continue;
            }
            text[8] = '\0';
            {
                unsigned id = (unsigned)strtoul(text, NULL, 16);
                transfer *x = &slots[id % SLOTS];

                pthread_mutex_lock(&lock);
                if (x->used && x->id == id) {
                    if (x->done)
                        wake(fds[i].fd);
                    else
                        x->waiter = fds[i].fd;
                }
                pthread_mutex_unlock(&lock);
            }
        }
        pthread_mutex_lock(&lock);
        for (i = 0; i < npending; i++)
            curl_multi_add_handle(multi, pending[i]->curl);
        npending = 0;
        pthread_mutex_unlock(&lock);
        curl_multi_perform(multi, &running);
        while ((msg = curl_multi_info_read(multi, &queued)) != NULL) {
            transfer *x;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            curl_multi_remove_handle(multi, msg->easy_handle);
            pthread_mutex_lock(&lock);
            x->code = msg->data.result;
            curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
            x->done = 1;
            wake(x->waiter);
            pthread_mutex_unlock(&lock);
        }
    }
    return NULL;
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
    listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    unlink(path);
    if (multi == NULL || listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listen_fd, 1024) != 0 || pthread_create(&thread, NULL, driver, NULL) != 0)
        return luaL_error(L, "multi_proto: cannot start: %s", strerror(errno));
    pthread_detach(thread);
    return 0;
}

static int proto_submit(lua_State *L)
{
    const char *url = luaL_checkstring(L, 1), *authorization = luaL_checkstring(L, 2);
    const char *ca_file = luaL_checkstring(L, 3);
    long timeout_ms = (long)luaL_checknumber(L, 4);
    transfer *x;
    CURL *curl;
    char header[512];

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
    if (curl == NULL) {
        curl = curl_easy_init();
        x->headers = NULL;
        snprintf(header, sizeof header, "Authorization: %s", authorization);
        x->headers = curl_slist_append(x->headers, header);
        x->headers = curl_slist_append(x->headers, "Accept: application/json");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, x->headers); /* kept for the handle's life */
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    }
    x->curl = curl;
    x->len = 0;
    x->done = 0;
    x->waiter = -1;
    x->status = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(curl, CURLOPT_PRIVATE, (char *)x);
    pthread_mutex_lock(&lock);
    pending[npending++] = x;
    pthread_mutex_unlock(&lock);
    curl_multi_wakeup(multi);
    lua_pushinteger(L, (lua_Integer)x->id);
    return 1;
}

static int proto_result(lua_State *L)
{
    unsigned id = (unsigned)luaL_checkinteger(L, 1);
    transfer *x = &slots[id % SLOTS];
    int done, n;

    pthread_mutex_lock(&lock);
    done = x->used && x->id == id && x->done;
    pthread_mutex_unlock(&lock);
    if (!done)
        return luaL_error(L, "multi_proto: transfer %d not done", (int)id);
    if (x->code == CURLE_OK) {
        lua_pushinteger(L, x->status);
        lua_pushlstring(L, x->body, x->len);
        n = 2;
    } else {
        lua_pushnil(L);
        lua_pushstring(L, curl_easy_strerror(x->code));
        n = 2;
    }
    pthread_mutex_lock(&lock);
    idle[nidle++] = x->curl;
    x->used = 0;
    pthread_mutex_unlock(&lock);
    return n;
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
