/* client.c — one HTTP exchange with the account API through libcurl.
 *
 * A transport owns one easy handle (so connections stay alive between calls),
 * the request headers and a reusable response buffer. perform() does exactly
 * one exchange and reports what happened as a plain table; option validation,
 * retries and the contract's error tables are policy, in lua/leadconduit/client.lua.
 * Nothing here calls into Lua while libcurl is running: the callbacks only fill
 * C buffers, so no Lua error can longjmp through libcurl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "leadconduit.h"

#define TRANSPORT_MT "leadconduit.transport"

/* A response body is kept between calls up to this size, to spare reallocations. */
#define KEEP_BUFFER_BYTES (256 * 1024)

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t limit;  /* max_response_bytes */
    int too_large; /* the body passed the limit: the transfer was aborted */
    int no_memory; /* growing the buffer failed: the transfer was aborted */
} body_buffer;

typedef struct {
    CURL *curl;
    struct curl_slist *headers; /* holds the Authorization header: scrubbed on free */
    char *url;                  /* <base_url>/account_sso_sync, no query */
    body_buffer body;
    char retry_after[128]; /* Retry-After of the last response, "" when absent */
    char errbuf[CURL_ERROR_SIZE];
} transport;

/* memset that the compiler may not drop although the memory is freed next. */
static void scrub(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n-- > 0)
        *v++ = 0;
}

static void free_headers(transport *t)
{
    struct curl_slist *h;

    for (h = t->headers; h != NULL; h = h->next)
        scrub(h->data, strlen(h->data));
    curl_slist_free_all(t->headers);
    t->headers = NULL;
}

static void transport_release(transport *t)
{
    if (t->curl != NULL)
        curl_easy_cleanup(t->curl);
    t->curl = NULL;
    free_headers(t);
    free(t->url);
    t->url = NULL;
    free(t->body.data);
    memset(&t->body, 0, sizeof t->body);
}

/* ---- libcurl callbacks: C only, never touch the Lua state ---------------- */

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

static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    transport *t = userdata;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    size_t skip = sizeof name - 1;

    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        t->retry_after[0] = '\0'; /* a new response (e.g. after 100 Continue) */
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

/* ---- construction ----------------------------------------------------------- */

static const char *config_string(lua_State *L, int config, const char *key, int required)
{
    const char *s;
    size_t len, i;

    lua_getfield(L, config, key);
    if (lua_isnil(L, -1) && !required) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "leadconduit.transport: config.%s must be a string", key);
    /* Left on the stack: the table need not keep it (an __index may hand out a new
     * string), and the collector may run before transport_new has copied it. */
    s = lua_tolstring(L, -1, &len);
    /* options.lua checks these already; a control character here would split a
     * header line (user_agent, the key) or truncate a C string, so refuse it again. */
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            luaL_error(L, "leadconduit.transport: config.%s must not contain control characters", key);
    return s;
}

static lua_Number config_number(lua_State *L, int config, const char *key)
{
    lua_Number n;

    lua_getfield(L, config, key);
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "leadconduit.transport: config.%s must be a number", key);
    n = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return n;
}

static long seconds_to_ms(lua_State *L, lua_Number seconds, const char *key)
{
    long ms;

    if (!(seconds > 0 && seconds <= 86400))
        luaL_error(L, "leadconduit.transport: config.%s out of range", key);
    ms = (long)(seconds * 1000 + 0.5);
    return ms > 0 ? ms : 1; /* libcurl reads 0 ms as "no limit at all" */
}

/* "Authorization: Basic " .. base64("API:" .. api_key), appended to t->headers. */
static int add_authorization(transport *t, const char *api_key)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char prefix[] = "Authorization: Basic ";
    size_t klen = strlen(api_key), plain_len = 4 + klen;
    size_t out_len = sizeof prefix - 1 + 4 * ((plain_len + 2) / 3) + 1;
    unsigned char *plain = malloc(plain_len);
    char *line = malloc(out_len);
    char *o;
    struct curl_slist *appended = NULL;
    size_t i;

    if (plain != NULL && line != NULL) {
        memcpy(plain, "API:", 4);
        memcpy(plain + 4, api_key, klen);
        memcpy(line, prefix, sizeof prefix - 1);
        o = line + sizeof prefix - 1;
        for (i = 0; i < plain_len; i += 3) {
            unsigned long v = (unsigned long)plain[i] << 16;
            size_t left = plain_len - i;

            if (left > 1)
                v |= (unsigned long)plain[i + 1] << 8;
            if (left > 2)
                v |= plain[i + 2];
            *o++ = alphabet[(v >> 18) & 63];
            *o++ = alphabet[(v >> 12) & 63];
            *o++ = left > 1 ? alphabet[(v >> 6) & 63] : '=';
            *o++ = left > 2 ? alphabet[v & 63] : '=';
        }
        *o = '\0';
        appended = curl_slist_append(t->headers, line);
        if (appended != NULL)
            t->headers = appended;
    }
    if (plain != NULL) {
        scrub(plain, plain_len);
        free(plain);
    }
    if (line != NULL) {
        scrub(line, out_len);
        free(line);
    }
    return appended != NULL;
}

static int add_header(transport *t, const char *line)
{
    struct curl_slist *appended = curl_slist_append(t->headers, line);

    if (appended == NULL)
        return 0;
    t->headers = appended;
    return 1;
}

#define SETOPT(opt, value)                                                                 \
    do {                                                                                   \
        if (curl_easy_setopt(t->curl, (opt), (value)) != CURLE_OK)                         \
            return luaL_error(L, "leadconduit.transport: libcurl rejected %s", #opt);      \
    } while (0)

/* core.transport(config) -> transport. The config was validated by client.lua. */
static int transport_new(lua_State *L)
{
    const char *url, *api_key, *user_agent, *ca_file;
    long timeout_ms, connect_timeout_ms;
    lua_Number max_bytes;
    int allow_http;
    transport *t;

    luaL_checktype(L, 1, LUA_TTABLE);
    url = config_string(L, 1, "url", 1);
    api_key = config_string(L, 1, "api_key", 1);
    user_agent = config_string(L, 1, "user_agent", 1);
    ca_file = config_string(L, 1, "ca_file", 0);
    timeout_ms = seconds_to_ms(L, config_number(L, 1, "timeout"), "timeout");
    connect_timeout_ms = seconds_to_ms(L, config_number(L, 1, "connect_timeout"), "connect_timeout");
    max_bytes = config_number(L, 1, "max_response_bytes");
    if (!(max_bytes >= 1 && max_bytes <= 1073741824.0))
        return luaL_error(L, "leadconduit.transport: config.max_response_bytes out of range");
    lua_getfield(L, 1, "allow_http");
    allow_http = lua_toboolean(L, -1);
    lua_pop(L, 1);

    /* From here on a raised error leaves a half-built transport that __gc frees. */
    t = lua_newuserdata(L, sizeof *t);
    memset(t, 0, sizeof *t);
    luaL_getmetatable(L, TRANSPORT_MT);
    lua_setmetatable(L, -2);

    t->body.limit = (size_t)max_bytes;
    t->url = strdup(url);
    t->curl = curl_easy_init();
    if (t->url == NULL || t->curl == NULL || !add_authorization(t, api_key) ||
        !add_header(t, "Accept: application/json"))
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
    SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
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
    return 1;
}

/* ---- one exchange ----------------------------------------------------------- */

static transport *check_open(lua_State *L)
{
    transport *t = luaL_checkudata(L, 1, TRANSPORT_MT);

    if (t->curl == NULL)
        luaL_error(L, "leadconduit: the client is closed");
    return t;
}

/* Which of the contract's failure kinds a libcurl error is. */
static const char *failure_kind(transport *t, CURLcode rc)
{
    long os_errno = 0;

    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_WRITE_ERROR:
        return t->body.too_large ? "too_large" : "network";
    case CURLE_BAD_CONTENT_ENCODING:
        return "decode";
    case CURLE_SSL_CONNECT_ERROR:
        /* A peer that resets or closes the socket during the handshake is a
         * transport failure (retryable), not a certificate problem. */
        curl_easy_getinfo(t->curl, CURLINFO_OS_ERRNO, &os_errno);
        return os_errno != 0 ? "network" : "tls";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
        return "tls";
    default:
        return "network";
    }
}

/* Drop the query, if any, then append "?" .. query; returns 0 on no memory. */
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

/* t:perform([query [, raw]]) -> outcome table (see lua/leadconduit/client.lua). */
static int transport_perform(lua_State *L)
{
    transport *t = check_open(L);
    const char *query = luaL_optstring(L, 2, NULL);
    int raw = lua_toboolean(L, 3);
    long status = 0;
    CURLcode rc;

    if (!set_url(t, query))
        return luaL_error(L, "leadconduit: out of memory");
    t->body.len = 0;
    t->body.too_large = 0;
    t->body.no_memory = 0;
    t->retry_after[0] = '\0';
    t->errbuf[0] = '\0';

    rc = curl_easy_perform(t->curl);
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);

    if (t->body.no_memory)
        return luaL_error(L, "leadconduit: out of memory reading the response");

    lua_createtable(L, 0, 4);
    if (status > 0) {
        lua_pushinteger(L, (lua_Integer)status);
        lua_setfield(L, -2, "status");
    }
    if (t->retry_after[0] != '\0') {
        lua_pushstring(L, t->retry_after);
        lua_setfield(L, -2, "retry_after");
    }
    if (rc != CURLE_OK) {
        lua_pushstring(L, failure_kind(t, rc));
        lua_setfield(L, -2, "failure");
        lua_pushstring(L, t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc));
        lua_setfield(L, -2, "message");
    } else if (raw) {
        lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
        lua_setfield(L, -2, "body");
    } else {
        /* Straight from libcurl's buffer into Lua tables: no Lua string in between. */
        int ok = lc_decode_buffer(L, t->body.data ? t->body.data : "", t->body.len,
                                  LC_DEFAULT_MAX_DEPTH);
        lua_setfield(L, -2, ok ? "value" : "decode_error");
    }

    if (t->body.cap > KEEP_BUFFER_BYTES) {
        free(t->body.data);
        t->body.data = NULL;
        t->body.cap = 0;
    }
    t->body.len = 0;
    return 1;
}

static int transport_close(lua_State *L)
{
    transport *t = luaL_checkudata(L, 1, TRANSPORT_MT);

    transport_release(t);
    return 0;
}

static int transport_is_closed(lua_State *L)
{
    transport *t = luaL_checkudata(L, 1, TRANSPORT_MT);

    lua_pushboolean(L, t->curl == NULL);
    return 1;
}

static int transport_tostring(lua_State *L)
{
    transport *t = luaL_checkudata(L, 1, TRANSPORT_MT);

    if (t->curl == NULL)
        lua_pushfstring(L, "leadconduit.transport (closed): %p", (void *)t);
    else
        lua_pushfstring(L, "leadconduit.transport (%s): %p", t->url ? t->url : "?", (void *)t);
    return 1;
}

static const luaL_Reg transport_methods[] = {
    {"perform", transport_perform},
    {"close", transport_close},
    {"is_closed", transport_is_closed},
    {NULL, NULL},
};

static const luaL_Reg transport_metamethods[] = {
    {"__gc", transport_close},
    {"__tostring", transport_tostring},
    {NULL, NULL},
};

void lc_open_client(lua_State *L)
{
    luaL_newmetatable(L, TRANSPORT_MT);
    lc_setfuncs(L, transport_metamethods);
    lua_newtable(L);
    lc_setfuncs(L, transport_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, transport_new);
}
