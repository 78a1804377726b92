/* files.c — the two file system calls the command-line tool needs and Lua lacks: a bounded read
 * of a regular file that also says who may read it (a FIFO, a device or a huge file must not make
 * the tool wait or run out of memory; the API key file must be private), and an atomic write of
 * a private file (changes --save keeps an answer that holds the account's keys). Policy (which
 * limit, which message) stays in cli.lua and cli_key.lua. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leadconduit.h"

static int fail_errno(lua_State *L, const char *what, const char *path)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(errno));
    return 2;
}

static void push_permissions(lua_State *L, mode_t mode)
{
    static const char letters[] = "rwxrwxrwx";
    char permissions[10];
    int i;

    for (i = 0; i < 9; i++)
        permissions[i] = (mode & (0400 >> i)) ? letters[i] : '-';
    permissions[9] = '\0';
    lua_pushstring(L, permissions);
}

static int read_refused(lua_State *L, const char *why, const char *detail)
{
    lua_pushnil(L);
    lua_pushstring(L, why);
    lua_pushstring(L, detail);
    return 3;
}

/* core.read_file(path, max_bytes) -> data, permissions ("rw-------") | nil, why, detail.
 * why: "missing" (no such file), "not_file" (a directory, FIFO, device...: never opened, so a
 * FIFO cannot block), "too_large" (more than max_bytes), "error" (detail: the system's text).
 * Symbolic links are followed. The buffer is sized from stat() before the file is opened, and
 * the opened file must be the one stat() saw, still no larger: nothing can raise while the
 * descriptor is open. */
static int core_read_file(lua_State *L)
{
    size_t plen;
    const char *path = luaL_checklstring(L, 1, &plen);
    lua_Number max_bytes = luaL_checknumber(L, 2);
    struct stat st, opened;
    char *buf;
    size_t size, got = 0;
    int fd;

    if (strlen(path) != plen)
        return luaL_argerror(L, 1, "the path must not contain a NUL byte");
    if (stat(path, &st) != 0)
        return read_refused(L, errno == ENOENT ? "missing" : "error", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return read_refused(L, "not_file", "");
    if (!(max_bytes >= 0) || (lua_Number)st.st_size > max_bytes)
        return read_refused(L, "too_large", "");
    size = (size_t)st.st_size;
    buf = lc_newuserdata(L, size + 1); /* freed by the collector */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return read_refused(L, errno == ENOENT ? "missing" : "error", strerror(errno));
    if (fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_ino != st.st_ino ||
        opened.st_dev != st.st_dev) {
        close(fd);
        return read_refused(L, "not_file", "");
    }
    /* One byte more than stat() said: a file that grew meanwhile is seen, not cut. */
    while (got < size + 1) {
        ssize_t n = read(fd, buf + got, size + 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            close(fd);
            return read_refused(L, "error", strerror(saved));
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got > size)
        return read_refused(L, "error", "the file grew while it was read");
    lua_pushlstring(L, buf, got);
    push_permissions(L, opened.st_mode);
    return 2;
}

/* Write all of data to fd; 0 with errno set on failure. */
static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 0;
        data += n;
        len -= (size_t)n;
    }
    return 1;
}

/* core.write_private(path, data) -> true | nil, errmsg: data becomes the file at path, mode 0600,
 * all at once: written to a new file beside it (mkstemp: O_EXCL, mode 0600), flushed to disk,
 * then renamed over path, so a reader sees the old file or the new one, never a part. */
static int core_write_private(lua_State *L)
{
    size_t len, plen;
    const char *path = luaL_checklstring(L, 1, &plen);
    const char *data = luaL_checklstring(L, 2, &len);
    char *tmp;
    int fd, saved;

    if (strlen(path) != plen)
        return luaL_argerror(L, 1, "the path must not contain a NUL byte");
    /* mkstemp fills in the template, so it lives in a userdata (a Lua string must not change);
     * the collector frees it, so a raise leaks nothing. */
    tmp = lc_newuserdata(L, plen + sizeof ".XXXXXX");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", sizeof ".XXXXXX");
    fd = mkstemp(tmp);
    if (fd < 0)
        return fail_errno(L, "cannot create a file beside", path);
    if (!write_all(fd, data, len) || fsync(fd) != 0) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return fail_errno(L, "cannot write", tmp);
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return fail_errno(L, "cannot replace", path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg file_functions[] = {
    {"read_file", core_read_file},
    {"write_private", core_write_private},
    {NULL, NULL},
};

void lc_open_files(lua_State *L)
{
    lc_setfuncs(L, file_functions);
}
