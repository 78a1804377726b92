/* files.c — the two file system calls the command-line tool needs and Lua lacks: what a path is
 * and who may read it (the API key file must be private), and an atomic write of a private file
 * (changes --save keeps an answer that holds the account's keys). Policy stays in cli.lua. */
#include <errno.h>
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

/* core.file_info(path) -> { type = "file" | "directory" | "other", permissions = "rw-r-----" }
 * (symbolic links followed), or nil, errmsg. */
static int core_file_info(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    static const char letters[] = "rwxrwxrwx";
    char permissions[10];
    struct stat st;
    int i;

    if (stat(path, &st) != 0)
        return fail_errno(L, "cannot read", path);
    for (i = 0; i < 9; i++)
        permissions[i] = (st.st_mode & (0400 >> i)) ? letters[i] : '-';
    permissions[9] = '\0';
    lua_createtable(L, 0, 2);
    lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
    lua_setfield(L, -2, "type");
    lua_pushstring(L, permissions);
    lua_setfield(L, -2, "permissions");
    return 1;
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
    {"file_info", core_file_info},
    {"write_private", core_write_private},
    {NULL, NULL},
};

void lc_open_files(lua_State *L)
{
    lc_setfuncs(L, file_functions);
}
