/* The on-disk collateral cache of the PCCS client (protocol.md §5.8): one QuoteCollateralV3
 * JSON file per (PCCS, FMSPC, PCK CA), served until the collateral's earliest nextUpdate and
 * fetched again after. The files are public data but a relying party's trust in them is not:
 * the directory is the caller's (0700 when created), files are written 0600 and replaced
 * atomically, and whatever a file holds is verified like fresh collateral anyway. */
#include "verify/verify_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dstack/api.h>

static char *entry_path(const char *dir, const char *key, const char *suffix)
{
    char *path = NULL;

    if (asprintf(&path, "%s/%s%s", dir, key, suffix) < 0)
        return NULL;
    return path;
}

dstack_collateral *dstack_pccs_cache_get(const char *dir, const char *key, int64_t now)
{
    char *path = entry_path(dir, key, ".json"), *text = NULL;
    dstack_collateral *c = NULL;
    struct stat st;
    FILE *f = NULL;

    if (path == NULL || (f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0 ||
        !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > DSTACK_COLLATERAL_MAX_JSON ||
        (text = malloc((size_t)st.st_size + 1)) == NULL ||
        fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        goto done;
    text[st.st_size] = '\0';
    if (dstack_collateral_from_json(text, (size_t)st.st_size, &c, NULL) != DSTACK_OK)
        c = NULL;
    /* stale (or never valid): fetch again */
    if (c != NULL && !(now < dstack_collateral_next_update(c))) {
        dstack_collateral_free(c);
        c = NULL;
    }
done:
    if (f != NULL)
        fclose(f);
    free(text);
    free(path);
    return c;
}

bool dstack_pccs_cache_put(const char *dir, const char *key, const dstack_collateral *c)
{
    char *path = entry_path(dir, key, ".json"), *tmp = entry_path(dir, key, ".XXXXXX");
    char *json = NULL;
    size_t len, off = 0;
    bool ok = false;
    int fd = -1;

    if (path == NULL || tmp == NULL || dstack_collateral_to_json(c, &json, NULL) != DSTACK_OK)
        goto done;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto done;
    if ((fd = mkstemp(tmp)) < 0)
        goto done;
    len = strlen(json);
    while (off < len) {
        ssize_t n = write(fd, json + off, len - off);

        if (n <= 0)
            goto done;
        off += (size_t)n;
    }
    if (fchmod(fd, 0600) != 0 || fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        goto done;
    }
    fd = -1;
    ok = rename(tmp, path) == 0;
done:
    if (fd >= 0)
        close(fd);
    if (!ok && tmp != NULL)
        unlink(tmp);
    dstack_free(json);
    free(path);
    free(tmp);
    return ok;
}
