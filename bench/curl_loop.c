/* curl_loop.c — the practical limit for bench/request.lua: the same request as
 * client:sync_account(), N times over one reused libcurl handle, from C.
 *
 *   curl_loop URL CA_FILE N      (the API key comes from $LEADCONDUIT_API_KEY)
 *
 * After one warm-up request (TLS handshake, connection in the cache) it times N
 * requests and prints the elapsed seconds. Bodies are read into a buffer and
 * dropped: the difference to the Lua client is the decode and the Lua around it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

static size_t collect(char *chunk, size_t size, size_t nmemb, void *userdata)
{
    buffer *b = userdata;
    size_t n = size * nmemb;

    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16384;
        char *grown;

        while (cap < b->len + n)
            cap *= 2;
        grown = realloc(b->data, cap);
        if (grown == NULL)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, chunk, n);
    b->len += n;
    return n;
}

static int request(CURL *curl, buffer *body)
{
    long status = 0;
    CURLcode rc;

    body->len = 0;
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        fprintf(stderr, "curl_loop: request failed: %s, HTTP %ld\n", curl_easy_strerror(rc), status);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    const char *key = getenv("LEADCONDUIT_API_KEY");
    struct curl_slist *headers = NULL;
    buffer body = {NULL, 0, 0};
    struct timespec t0, t1;
    char userpwd[512];
    CURL *curl;
    long i, n;

    if (argc != 4 || key == NULL || strlen(key) > 400) {
        fprintf(stderr, "usage: LEADCONDUIT_API_KEY=... curl_loop URL CA_FILE N\n");
        return 2;
    }
    n = strtol(argv[3], NULL, 10);
    snprintf(userpwd, sizeof userpwd, "API:%s", key);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    headers = curl_slist_append(headers, "Accept: application/json");
    if (curl == NULL || headers == NULL)
        return 1;
    curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
    curl_easy_setopt(curl, CURLOPT_CAINFO, argv[2]);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);

    if (!request(curl, &body))
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++)
        if (!request(curl, &body))
            return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.9f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

    memset(userpwd, 0, sizeof userpwd);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(body.data);
    curl_global_cleanup();
    return 0;
}
