/* dstack-keytool — atomic output files.
 *
 * Services read these files at start (nginx, haproxy), possibly while an ExecStartPre of a
 * restarting unit rewrites them, so a reader must see the old file or the new one, never a
 * prefix: every file is written to a temporary in the same directory, fsync'd, then renamed
 * over the target, and the directory is fsync'd. All files of one command are staged before
 * any is renamed, so a failure while writing leaves every target untouched and no temporary
 * behind.
 */
#include "keytool_files.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir_of(const char *path)
{
    char *copy = strdup(path), *dir = NULL;

    if (copy != NULL)
        dir = strdup(dirname(copy));
    free(copy);
    return dir;
}

static bool write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* A decimal id, or -1 when `s` is not one. */
static long numeric_id(const char *s)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v >= 0 && v < 0x7fffffffL ? v : -1;
}

bool kt_parse_owner(const char *spec, kt_file_owner *owner, char *msg, size_t msglen)
{
    char *user = strdup(spec), *group;
    struct passwd *pw;
    struct group *gr;
    long id;
    bool ok = false;

    if (user == NULL) {
        snprintf(msg, msglen, "out of memory");
        return false;
    }
    group = strchr(user, ':');
    if (group != NULL)
        *group++ = '\0';
    if (user[0] == '\0' || (group != NULL && group[0] == '\0')) {
        snprintf(msg, msglen, "--owner %s: expected USER or USER:GROUP", spec);
        goto done;
    }
    /* Names first (a user may be called "1000"), then numeric ids as chown(1) does. */
    pw = getpwnam(user);
    if (pw == NULL && (id = numeric_id(user)) >= 0)
        pw = getpwuid((uid_t)id);
    if (pw != NULL) {
        owner->uid = pw->pw_uid;
        owner->gid = pw->pw_gid;
    } else if ((id = numeric_id(user)) >= 0) {
        owner->uid = (uid_t)id; /* an id without a passwd entry: allowed, as in chown(1) */
        owner->gid = (gid_t)-1;
    } else {
        snprintf(msg, msglen, "--owner %s: no such user \"%s\"", spec, user);
        goto done;
    }
    if (group != NULL) {
        gr = getgrnam(group);
        if (gr != NULL)
            owner->gid = gr->gr_gid;
        else if ((id = numeric_id(group)) >= 0)
            owner->gid = (gid_t)id;
        else {
            snprintf(msg, msglen, "--owner %s: no such group \"%s\"", spec, group);
            goto done;
        }
    }
    ok = true;
done:
    free(user);
    return ok;
}

bool kt_stage_file(kt_staged_file *f, const char *path, const unsigned char *data, size_t len,
                   mode_t mode, kt_file_owner owner)
{
    char *copy = NULL, *dir = NULL;
    struct stat st;
    int fd = -1, saved;
    bool ok = false;

    memset(f, 0, sizeof(*f));
    f->path = path;
    /* Only regular files are replaced: renaming over a device node, a directory or a symlink
     * would silently change what the name is, not what it holds. */
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : EEXIST;
        return false;
    }
    copy = strdup(path);
    dir = dir_of(path);
    if (copy == NULL || dir == NULL) {
        errno = ENOMEM;
        goto err;
    }
    /* ".<name>.XXXXXX" next to the target: same file system, so rename() is atomic. */
    if (asprintf(&f->tmp, "%s/.%s.XXXXXX", dir, basename(copy)) < 0) {
        f->tmp = NULL;
        errno = ENOMEM;
        goto err;
    }
    fd = mkstemp(f->tmp);
    if (fd < 0) {
        free(f->tmp);
        f->tmp = NULL;
        goto err;
    }
    /* Owner before mode: chown may clear set-id bits, and the file is 0600 from mkstemp
     * until then, so no other user can open it in between. */
    if ((owner.uid != (uid_t)-1 || owner.gid != (gid_t)-1) && fchown(fd, owner.uid, owner.gid) != 0)
        goto err;
    if (fchmod(fd, mode) != 0 || !write_all(fd, data, len) || fsync(fd) != 0)
        goto err;
    if (close(fd) != 0) {
        fd = -1;
        goto err;
    }
    fd = -1;
    ok = true;
err:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (!ok)
        kt_discard_files(f, 1);
    free(copy);
    free(dir);
    errno = saved;
    return ok;
}

bool kt_commit_files(kt_staged_file *files, size_t n, const char **failed_path)
{
    size_t i;
    int fd;

    for (i = 0; i < n; i++) {
        if (rename(files[i].tmp, files[i].path) != 0) {
            *failed_path = files[i].path;
            kt_discard_files(files + i, n - i);
            return false;
        }
        free(files[i].tmp);
        files[i].tmp = NULL;
    }
    /* Make the renames durable. A directory that cannot be opened for fsync (odd file
     * systems) is not an error: the data itself is already on disk. */
    for (i = 0; i < n; i++) {
        char *dir = dir_of(files[i].path);

        if (dir == NULL)
            continue;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
        free(dir);
    }
    return true;
}

void kt_discard_files(kt_staged_file *files, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (files[i].tmp != NULL) {
            (void)unlink(files[i].tmp);
            free(files[i].tmp);
            files[i].tmp = NULL;
        }
    }
}

/* The directory part's real path plus the last component; NULL when the directory does not
 * resolve (the write will fail and say so). */
static char *canonical_target(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? strdup(".") : strndup(path, slash == path ? 1 : slash - path);
    char *real = dir != NULL ? realpath(dir, NULL) : NULL;
    const char *base = slash == NULL ? path : slash + 1;
    char *out = NULL;

    if (real != NULL && (out = malloc(strlen(real) + strlen(base) + 2)) != NULL)
        sprintf(out, "%s/%s", real, base);
    free(dir);
    free(real);
    return out;
}

bool kt_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    char *ca, *cb;
    bool same;

    if (strcmp(a, b) == 0)
        return true;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    ca = canonical_target(a);
    cb = canonical_target(b);
    same = ca != NULL && cb != NULL && strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return same;
}
