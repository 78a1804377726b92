/* transport.c — one HTTP exchange with the account API through libcurl.
 *
 * A transport owns one easy handle (so its connection stays alive between exchanges) and the
 * request headers. perform() does one exchange and reports what happened as plain facts: the
 * status, Retry-After, whether the header block ended, the raw body, and on failure libcurl's
 * code by name and the OS errno. It decides nothing: what the facts mean is
 * lua/leadconduit/errors.lua's, retries and deadlines are lua/leadconduit/client.lua's, and the
 * config arrives validated by lua/leadconduit/options.lua (what is checked here only keeps
 * libcurl and the header lines from misbehaving). No Lua code runs while libcurl does: the
 * callbacks fill C buffers, so no Lua error can longjmp through libcurl.
 *
 * Inside nginx the exchange runs on the worker's driver thread instead (csrc/driver.c):
 * submit() hands the handle over, the driver calls lc_transport_finished() when it ended and
 * reports the transport's id, collect() turns what it found out into the outcome. One exchange
 * at a time per transport; a transport closed while the driver uses it is freed by the driver
 * when its exchange ends. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "leadconduit.h"

/* CURLOPT_PROTOCOLS_STR and CURLOPT_REDIR_PROTOCOLS_STR, which keep every request on https://
 * (and loopback http://), came with libcurl 7.85.0. */
#if LIBCURL_VERSION_NUM < 0x075500
#error "leadconduit needs libcurl 7.85.0 or newer (CURLOPT_PROTOCOLS_STR)"
#endif

#define HANDLE_MT "leadconduit.transport"

/* The longest wait one exchange may be given: far beyond options.lua's limits, and small
 * enough that the milliseconds fit a long everywhere. */
#define MAX_EXCHANGE_SECONDS (2 * 86400.0)

typedef struct {
    char *data;
    size_t len, cap;
    size_t limit;  /* max_response_bytes */
    int too_large; /* the body passed the limit: the transfer was aborted */
    int no_memory; /* growing the buffer failed: the transfer was aborted */
} body_buffer;

/* What one exchange found out, copied out of the transport before any Lua code can run. */
typedef struct {
    CURLcode code;
    long status, os_errno;
    int headers_ended, too_large, deadline_passed;
    int no_memory_before; /* the request could not be set up: nothing was sent */
    char *body;           /* taken from the transport: freed by perform() */
    size_t body_len;
    char retry_after[128];
    char message[CURL_ERROR_SIZE];
} exchange;

typedef struct transport {
    CURL *curl;
    struct curl_slist *headers; /* holds the Authorization header: scrubbed when freed */
    char *url;                  /* <base_url>/account_sso_sync, without a query */
    long connect_timeout_ms;
    /* State of the exchange in progress. */
    body_buffer body;
    int headers_ended;     /* the blank line that ends the current response's headers came */
    char retry_after[128]; /* Retry-After of the current response, "" when absent */
    char errbuf[CURL_ERROR_SIZE];
    /* Lifetime, guarded by lock. */
    lua_Number id; /* what the driver reports it by: never 0, never reused */
    int in_use;    /* an exchange is running, in this thread or another, or awaits collect() */
    int closing;   /* closed: freed when the exchange in progress ends */
    int finished;  /* the driver's exchange ended: its outcome waits in `result` for collect() */
    exchange result;
} transport;

/* The Lua side of a transport: a userdata pointing at it, NULL once closed. */
typedef struct {
    transport *t;
} handle;

/* in_use, closing, finished and result of every transport, between the event loop and the
 * driver thread; serial: the last id given. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static lua_Number serial;

/* ---- freeing ------------------------------------------------------------------------------ */

/* memset that the compiler may not drop although the memory is freed next. */
static void scrub(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n-- > 0)
        *v++ = 0;
}

static void destroy(transport *t)
{
    struct curl_slist *h;

    if (t->curl != NULL)
        curl_easy_cleanup(t->curl);
    for (h = t->headers; h != NULL; h = h->next)
        scrub(h->data, strlen(h->data));
    curl_slist_free_all(t->headers);
    free(t->url);
    free(t->body.data);
    free(t->result.body);
    free(t);
}

/* Close t now, or when the exchange in progress ends. */
static void close_transport(transport *t)
{
    int free_now;

    pthread_mutex_lock(&lock);
    t->closing = 1;
    /* An outcome nobody will collect (the request that waited for it was abandoned) goes too. */
    free_now = !t->in_use || t->finished;
    pthread_mutex_unlock(&lock);
    if (free_now)
        destroy(t);
}

/* ---- one exchange at a time --------------------------------------------------------------- */

enum { ACQUIRED, CLOSED, BUSY };

static int acquire_locked(transport *t)
{
    if (t == NULL || t->closing)
        return CLOSED;
    if (t->in_use)
        return BUSY;
    t->in_use = 1;
    return ACQUIRED;
}

/* The exchange is over: let the next one in, or finish a close that came meanwhile. */
static void release(transport *t)
{
    int closed;

    pthread_mutex_lock(&lock);
    t->in_use = 0;
    closed = t->closing;
    pthread_mutex_unlock(&lock);
    if (closed)
        destroy(t);
}

static int refuse(lua_State *L, int why)
{
    if (why == CLOSED)
        return luaL_error(L, "leadconduit.sync_account: the client is closed");
    return luaL_error(
        L, "leadconduit.sync_account: the client is in the middle of an exchange (called again from a "
           "finalizer, a debug hook or another thread)");
}

/* ---- libcurl callbacks: C only, never touch a Lua state ------------------------------------ */

static size_t on_body(char *chunk, size_t size, size_t nmemb, void *userdata)
{
    body_buffer *b = userdata;
    size_t n = size * nmemb;

    /* Counted after decompression, and also for chunked bodies, which
     * CURLOPT_MAXFILESIZE does not stop. Returning less than n aborts. */
    if (n > b->limit - b->len) {
        b->too_large = 1;
        return 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        char *grown;

        while (cap < b->len + n)
            cap = cap > b->limit / 2 ? b->limit : cap * 2;
        grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->no_memory = 1;
            return 0;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, chunk, n);
    b->len += n;
    return n;
}

/* Called once per header line, the status line and the closing blank line included. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    transport *t = userdata;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    size_t skip = sizeof name - 1;

    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* A new response (e.g. after a 1xx): forget what the previous one said. */
        t->retry_after[0] = '\0';
        t->headers_ended = 0;
    } else if ((n == 2 && line[0] == '\r' && line[1] == '\n') || (n == 1 && line[0] == '\n')) {
        t->headers_ended = 1;
    } else if (n > skip && strncasecmp(line, name, skip) == 0) {
        size_t len;

        while (skip < n && (line[skip] == ' ' || line[skip] == '\t'))
            skip++;
        len = n - skip;
        while (len > 0 && (line[skip + len - 1] == '\r' || line[skip + len - 1] == '\n' ||
                           line[skip + len - 1] == ' ' || line[skip + len - 1] == '\t'))
            len--;
        if (len >= sizeof t->retry_after)
            len = sizeof t->retry_after - 1;
        memcpy(t->retry_after, line + skip, len);
        t->retry_after[len] = '\0';
    }
    return n;
}

/* ---- the exchange itself ------------------------------------------------------------------ */

/* Every CURLcode a transfer can end with, by its name without "CURLE_": the one list that
 * code_name() and core.curl_codes are made from. errors.lua classifies by these names, and
 * spec/curl_codes_spec.lua checks that every name it relies on is here. */
/* clang-format off */
#define CURL_CODES(X)                                                                                    \
    X(UNSUPPORTED_PROTOCOL) X(FAILED_INIT) X(URL_MALFORMAT) X(NOT_BUILT_IN)                           \
    X(COULDNT_RESOLVE_PROXY) X(COULDNT_RESOLVE_HOST) X(COULDNT_CONNECT)                               \
    X(WEIRD_SERVER_REPLY) X(HTTP2) X(PARTIAL_FILE) X(HTTP_RETURNED_ERROR)                             \
    X(WRITE_ERROR) X(READ_ERROR) X(OUT_OF_MEMORY) X(OPERATION_TIMEDOUT)                               \
    X(RANGE_ERROR) X(HTTP_POST_ERROR) X(SSL_CONNECT_ERROR) X(ABORTED_BY_CALLBACK)                     \
    X(BAD_FUNCTION_ARGUMENT) X(INTERFACE_FAILED) X(TOO_MANY_REDIRECTS)                                \
    X(UNKNOWN_OPTION) X(SETOPT_OPTION_SYNTAX) X(GOT_NOTHING) X(SSL_ENGINE_NOTFOUND)                   \
    X(SSL_ENGINE_SETFAILED) X(SEND_ERROR) X(RECV_ERROR) X(SSL_CERTPROBLEM)                            \
    X(SSL_CIPHER) X(PEER_FAILED_VERIFICATION) X(BAD_CONTENT_ENCODING)                                 \
    X(FILESIZE_EXCEEDED) X(USE_SSL_FAILED) X(SEND_FAIL_REWIND) X(SSL_ENGINE_INITFAILED)               \
    X(LOGIN_DENIED) X(SSL_CACERT_BADFILE) X(SSL_SHUTDOWN_FAILED) X(AGAIN)                             \
    X(SSL_CRL_BADFILE) X(SSL_ISSUER_ERROR) X(CHUNK_FAILED) X(NO_CONNECTION_AVAILABLE)                 \
    X(SSL_PINNEDPUBKEYNOTMATCH) X(SSL_INVALIDCERTSTATUS) X(HTTP2_STREAM)                              \
    X(RECURSIVE_API_CALL) X(AUTH_ERROR) X(HTTP3) X(QUIC_CONNECT_ERROR) X(PROXY)                       \
    X(SSL_CLIENTCERT) X(UNRECOVERABLE_POLL) CURL_CODES_SINCE_8_6(X)
/* libcurl 8.6 says CURLE_TOO_LARGE where 7.88 says CURLE_OUT_OF_MEMORY (a header line too long). */
#if LIBCURL_VERSION_NUM >= 0x080600
#define CURL_CODES_SINCE_8_6(X) X(TOO_LARGE)
#else
#define CURL_CODES_SINCE_8_6(X)
#endif
/* clang-format on */

/* libcurl's name for a code a transfer can end with ("CURLE_COULDNT_CONNECT"), or NULL. */
static const char *code_name(CURLcode code)
{
    switch (code) {
#define CASE(c)                                                                                              \
    case CURLE_##c: return "CURLE_" #c;
        CURL_CODES(CASE)
#undef CASE
    default: return NULL;
    }
}

/* core.curl_codes: the array of the names code_name() knows. */
static void push_code_names(lua_State *L)
{
    static const char *const names[] = {
#define NAME(c) "CURLE_" #c,
        CURL_CODES(NAME)
#undef NAME
    };
    size_t i;

    lua_createtable(L, (int)(sizeof names / sizeof names[0]), 0);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* <url>?<query>, or the url alone; 0 when out of memory. */
static int set_url(transport *t, const char *query)
{
    char *full;
    size_t base_len, query_len;
    CURLcode rc;

    if (query == NULL)
        return curl_easy_setopt(t->curl, CURLOPT_URL, t->url) == CURLE_OK;
    base_len = strlen(t->url);
    query_len = strlen(query);
    full = malloc(base_len + 1 + query_len + 1);
    if (full == NULL)
        return 0;
    memcpy(full, t->url, base_len);
    full[base_len] = '?';
    memcpy(full + base_len + 1, query, query_len + 1);
    rc = curl_easy_setopt(t->curl, CURLOPT_URL, full); /* libcurl copies it */
    free(full);
    return rc == CURLE_OK;
}

/* The first half of an exchange on an acquired transport that must end at `deadline`
 * (core.monotime() seconds): forget the previous one and set the URL and the timeouts. 0 when
 * it ended before it began, x saying why: less than a millisecond was left (max_time nearly
 * ran out; libcurl would read 0 ms as "no limit"), or no memory. */
static int begin_exchange(transport *t, const char *query, lua_Number deadline, exchange *x)
{
    lua_Number seconds = deadline - lc_monotime();
    long timeout_ms;

    memset(x, 0, sizeof *x);
    if (!(seconds >= 0.001)) {
        x->deadline_passed = 1;
        return 0;
    }
    timeout_ms = (long)(seconds * 1000);
    t->body.len = 0;
    t->body.too_large = 0;
    t->body.no_memory = 0;
    t->headers_ended = 0;
    t->retry_after[0] = '\0';
    t->errbuf[0] = '\0';
    if (!set_url(t, query)) {
        x->code = CURLE_OUT_OF_MEMORY;
        x->no_memory_before = 1;
        return 0;
    }
    curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     t->connect_timeout_ms < timeout_ms ? t->connect_timeout_ms : timeout_ms);
    return 1;
}

/* The second half, once libcurl returned `code`: copy the facts into x. The body moves from the
 * transport into x, so that nothing a later close() frees is read. */
static void end_exchange(transport *t, CURLcode code, exchange *x)
{
    x->code = code;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->code != CURLE_OK)
        curl_easy_getinfo(t->curl, CURLINFO_OS_ERRNO, &x->os_errno);
    if (t->body.no_memory)
        x->code = CURLE_OUT_OF_MEMORY;
    x->headers_ended = t->headers_ended;
    x->too_large = t->body.too_large;
    memcpy(x->retry_after, t->retry_after, sizeof x->retry_after);
    snprintf(x->message, sizeof x->message, "%s",
             t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(x->code));
    if (x->code == CURLE_OK) {
        x->body = t->body.data;
        x->body_len = t->body.len;
        t->body.data = NULL;
        t->body.cap = 0;
    }
    t->body.len = 0;
}

/* Fill the outcome table at index 1 from the exchange at index 2 (a light userdata). Run in
 * protected mode, so that perform() frees the body whatever happens. */
static int fill_outcome(lua_State *L)
{
    const exchange *x = lua_touserdata(L, 2);

#define SET(push, field) (push, lua_setfield(L, 1, field))
    if (x->deadline_passed) {
        SET(lua_pushboolean(L, 1), "deadline_passed");
        return 0;
    }
    if (x->status > 0) {
        SET(lua_pushinteger(L, (lua_Integer)x->status), "status");
        SET(lua_pushboolean(L, x->headers_ended), "headers_complete");
    }
    if (x->retry_after[0] != '\0')
        SET(lua_pushstring(L, x->retry_after), "retry_after");
    if (x->code == CURLE_OK) {
        SET(lua_pushlstring(L, x->body != NULL ? x->body : "", x->body_len), "body");
        return 0;
    }
    if (code_name(x->code) != NULL)
        SET(lua_pushstring(L, code_name(x->code)), "curl_code");
    else
        SET(lua_pushfstring(L, "CURLE_%d", (int)x->code), "curl_code");
    SET(lua_pushstring(L, x->message), "curl_message");
    if (x->os_errno != 0)
        SET(lua_pushinteger(L, (lua_Integer)x->os_errno), "os_errno");
    if (x->too_large)
        SET(lua_pushboolean(L, 1), "body_too_large");
#undef SET
    return 0;
}

/* Everything perform() allocates on the Lua side, pushed before the transport is acquired,
 * while a raise (out of memory) still leaves nothing behind: the outcome table, the function
 * that fills it, and the table again as its first argument. */
static void push_outcome_frame(lua_State *L)
{
    lua_createtable(L, 0, 8);
    lua_pushcfunction(L, fill_outcome);
    lua_pushvalue(L, -2);
}

/* The outcome of x, above push_outcome_frame(), on top of the stack; frees x's body. Only a
 * request this process could not even set up raises. Whatever happened once it was sent is an
 * outcome, CURLE_OUT_OF_MEMORY included: libcurl 7.88 gives that code for a header line longer
 * than it accepts, so a server could otherwise make sync_account raise. */
static int push_outcome(lua_State *L, exchange *x)
{
    int rc;

    if (x->no_memory_before) {
        free(x->body);
        return luaL_error(L, "leadconduit.sync_account: out of memory before the exchange");
    }
    lua_pushlightuserdata(L, x);
    rc = lua_pcall(L, 2, 0, 0);
    free(x->body);
    if (rc != LC_OK)
        return lua_error(L);
    return 1;
}

/* One exchange on t, which this thread has acquired, ending at `deadline` (core.monotime()
 * seconds), above push_outcome_frame(); leaves the outcome table on top of the stack. */
static int perform(lua_State *L, transport *t, const char *query, lua_Number deadline)
{
    exchange x;

    if (begin_exchange(t, query, deadline, &x))
        end_exchange(t, curl_easy_perform(t->curl), &x);
    release(t); /* t may be gone from here on */
    return push_outcome(L, &x);
}

/* Arguments 2 and 3 of perform() and submit(): query (nil or a string of URL characters),
 * deadline. */
static const char *check_query(lua_State *L)
{
    size_t len, i;
    const char *query = luaL_optlstring(L, 2, NULL, &len);

    for (i = 0; query != NULL && i < len; i++)
        if ((unsigned char)query[i] <= 0x20 || (unsigned char)query[i] >= 0x7F || query[i] == '#')
            luaL_argerror(L, 2, "the query must be URL characters only");
    return query;
}

static lua_Number check_deadline(lua_State *L)
{
    lua_Number deadline = luaL_checknumber(L, 3);

    if (!(deadline - lc_monotime() <= MAX_EXCHANGE_SECONDS))
        luaL_argerror(L, 3, "the deadline must be a core.monotime() at most two days ahead");
    return deadline;
}

/* t:perform(query, deadline) -> outcome (see the file comment; client.lua reads it). */
static int transport_perform(lua_State *L)
{
    handle *h = luaL_checkudata(L, 1, HANDLE_MT);
    const char *query = check_query(L);
    lua_Number deadline = check_deadline(L);
    int got;

    push_outcome_frame(L);
    pthread_mutex_lock(&lock);
    got = acquire_locked(h->t);
    pthread_mutex_unlock(&lock);
    if (got != ACQUIRED)
        return refuse(L, got);
    return perform(L, h->t, query, deadline);
}

/* ---- exchanges run by the driver (csrc/driver.c), inside nginx ----------------------------- */

/* t:submit(query, deadline) -> true when the driver thread runs the exchange: wait until it
 * reports t:id() on its socket, then t:collect(). false when the exchange ended before it
 * began (less than a millisecond was left, or no memory): collect now. nil, message when the
 * driver cannot take it. */
static int transport_submit(lua_State *L)
{
    handle *h = luaL_checkudata(L, 1, HANDLE_MT);
    const char *query = check_query(L);
    lua_Number deadline = check_deadline(L);
    transport *t;
    const char *problem;
    int got;

    pthread_mutex_lock(&lock);
    got = acquire_locked(h->t);
    pthread_mutex_unlock(&lock);
    if (got != ACQUIRED)
        return refuse(L, got);
    t = h->t;
    if (!begin_exchange(t, query, deadline, &t->result)) {
        /* Ended before it began: collect() says why (and raises for no memory). */
        pthread_mutex_lock(&lock);
        t->finished = 1;
        pthread_mutex_unlock(&lock);
        lua_pushboolean(L, 0);
        return 1;
    }
    problem = lc_driver_add(t->curl, t);
    if (problem != NULL) {
        release(t);
        lua_pushnil(L);
        lua_pushstring(L, problem);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* t:collect() -> the outcome of the exchange submit() started, once it ended; nil before. */
static int transport_collect(lua_State *L)
{
    handle *h = luaL_checkudata(L, 1, HANDLE_MT);
    exchange x;
    int finished;

    push_outcome_frame(L);
    pthread_mutex_lock(&lock);
    finished = h->t != NULL && h->t->finished;
    if (finished) {
        x = h->t->result;
        h->t->result.body = NULL; /* now x's: push_outcome frees it */
        h->t->finished = 0;
    }
    pthread_mutex_unlock(&lock);
    if (!finished) {
        lua_pushnil(L);
        return 1;
    }
    release(h->t);
    return push_outcome(L, &x);
}

void lc_transport_lock(void)
{
    pthread_mutex_lock(&lock);
}

void lc_transport_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

double lc_transport_finished(void *p, int code)
{
    transport *t = p;
    double id = t->id;
    int closed;

    end_exchange(t, (CURLcode)code, &t->result);
    pthread_mutex_lock(&lock);
    closed = t->closing;
    if (!closed)
        t->finished = 1;
    pthread_mutex_unlock(&lock);
    if (closed)
        destroy(t);
    return id;
}

/* ---- construction ------------------------------------------------------------------------- */

/* config[key] as a string without control characters, left on the stack: the config need not
 * keep it (an __index may hand out a fresh string) and the collector may run before it is
 * copied. NULL when absent and not required. */
static const char *config_string(lua_State *L, const char *key, int required)
{
    const char *s;
    size_t len, i;

    lua_getfield(L, 1, key);
    if (lua_isnil(L, -1) && !required)
        return NULL;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "leadconduit.transport: config.%s must be a string", key);
    s = lua_tolstring(L, -1, &len);
    /* A control character would split a header line or cut a C string short. */
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            luaL_error(L, "leadconduit.transport: config.%s must not contain control characters", key);
    return s;
}

/* config[key] as a positive integer that a long holds. What is a sensible value is options.lua's
 * to say; this only keeps the conversion defined. */
static long config_positive(lua_State *L, const char *key)
{
    /* 2^(bits - 1), exactly: the first double past LONG_MAX (which a double cannot hold). */
    const lua_Number past_long_max = (lua_Number)(LONG_MAX / 2 + 1) * 2;
    lua_Number n;

    lua_getfield(L, 1, key);
    n = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(n >= 1 && n < past_long_max) || n != (lua_Number)(long)n)
        luaL_error(L, "leadconduit.transport: config.%s must be a positive integer", key);
    lua_pop(L, 1);
    return (long)n;
}

/* header_name .. value, appended to t->headers; the copy is scrubbed, libcurl keeps its own. */
static int add_header(transport *t, const char *header_name, const char *value)
{
    size_t n = strlen(header_name), v = strlen(value);
    char *line = malloc(n + v + 1);
    struct curl_slist *appended = NULL;

    if (line != NULL) {
        memcpy(line, header_name, n);
        memcpy(line + n, value, v + 1);
        appended = curl_slist_append(t->headers, line);
        if (appended != NULL)
            t->headers = appended;
        scrub(line, n + v);
        free(line);
    }
    return appended != NULL;
}

#define SETOPT(opt, value)                                                                                   \
    do {                                                                                                     \
        if (curl_easy_setopt(t->curl, (opt), (value)) != CURLE_OK)                                           \
            return luaL_error(L, "leadconduit.transport: libcurl rejected %s", #opt);                        \
    } while (0)

/* core.transport(config) -> transport. config: url, authorization (the header's value),
 * user_agent, ca_file (optional), connect_timeout_ms, max_response_bytes, allow_http. */
static int transport_new(lua_State *L)
{
    const char *url, *authorization, *user_agent, *ca_file;
    long connect_timeout_ms, max_bytes;
    int allow_http;
    handle *h;
    transport *t;

    luaL_checktype(L, 1, LUA_TTABLE);
    url = config_string(L, "url", 1);
    authorization = config_string(L, "authorization", 1);
    user_agent = config_string(L, "user_agent", 1);
    ca_file = config_string(L, "ca_file", 0);
    connect_timeout_ms = config_positive(L, "connect_timeout_ms");
    max_bytes = config_positive(L, "max_response_bytes");
    lua_getfield(L, 1, "allow_http");
    allow_http = lua_toboolean(L, -1);

    /* From here on a raise leaves a half-built transport, which __gc frees. */
    h = lc_newuserdata(L, sizeof *h);
    h->t = NULL;
    luaL_getmetatable(L, HANDLE_MT);
    lua_setmetatable(L, -2);
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return luaL_error(L, "leadconduit.transport: out of memory");
    h->t = t;
    t->body.limit = (size_t)max_bytes;
    t->connect_timeout_ms = connect_timeout_ms;
    t->url = strdup(url);
    t->curl = curl_easy_init();
    if (t->url == NULL || t->curl == NULL || !add_header(t, "Authorization: ", authorization) ||
        !add_header(t, "Accept: ", "application/json"))
        return luaL_error(L, "leadconduit.transport: out of memory");

    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, t->errbuf);
    SETOPT(CURLOPT_PROTOCOLS_STR, allow_http ? "http,https" : "https");
    /* http:// is only allowed to loopback, so that the key never crosses a network in
     * clear text: "" keeps libcurl from sending the request to $http_proxy/$ALL_PROXY. */
    if (allow_http)
        SETOPT(CURLOPT_PROXY, "");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L); /* a redirect must never carry the key elsewhere */
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file != NULL)
        SETOPT(CURLOPT_CAINFO, ca_file);
    SETOPT(CURLOPT_USERAGENT, user_agent);
    SETOPT(CURLOPT_HTTPHEADER, t->headers);
    SETOPT(CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl can decode */
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_POSTFIELDS, "");
    SETOPT(CURLOPT_POSTFIELDSIZE, 0L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &t->body);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, t);

    pthread_mutex_lock(&lock);
    t->id = ++serial; /* 2^53 transports before a double would repeat one */
    pthread_mutex_unlock(&lock);
    return 1;
}

/* ---- methods ------------------------------------------------------------------------------ */

/* t:close(): frees the handle, the connection and the key's header now, or, while another
 * thread's exchange runs on it, when that exchange ends. Closing twice is harmless. */
static int transport_close(lua_State *L)
{
    handle *h = luaL_checkudata(L, 1, HANDLE_MT);

    if (h->t != NULL) {
        transport *t = h->t;

        h->t = NULL;
        close_transport(t);
    }
    return 0;
}

/* t:id() -> the number the driver reports this transport's exchanges by. */
static int transport_id(lua_State *L)
{
    handle *h = luaL_checkudata(L, 1, HANDLE_MT);

    if (h->t == NULL)
        return refuse(L, CLOSED);
    lua_pushnumber(L, h->t->id);
    return 1;
}

static int transport_tostring(lua_State *L)
{
    handle *h = luaL_checkudata(L, 1, HANDLE_MT);

    if (h->t == NULL)
        lua_pushfstring(L, "leadconduit.transport (closed): %p", (void *)h);
    else
        lua_pushfstring(L, "leadconduit.transport (%s): %p", h->t->url, (void *)h);
    return 1;
}

static const luaL_Reg transport_methods[] = {
    {"perform", transport_perform}, {"submit", transport_submit}, {"collect", transport_collect},
    {"close", transport_close},     {"id", transport_id},         {NULL, NULL},
};

static const luaL_Reg transport_metamethods[] = {
    {"__gc", transport_close},
    {"__tostring", transport_tostring},
    {NULL, NULL},
};

void lc_open_transport(lua_State *L, int core)
{
    luaL_newmetatable(L, HANDLE_MT);
    lc_setfuncs(L, transport_metamethods);
    lua_newtable(L);
    lc_setfuncs(L, transport_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    lua_pushcfunction(L, transport_new);
    lua_setfield(L, core, "transport");
    push_code_names(L);
    lua_setfield(L, core, "curl_codes");
}
