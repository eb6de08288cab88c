/* dstack-keytool — atomic output files (temporary in the same directory, fsync, rename). */
#ifndef DSTACK_KEYTOOL_FILES_H
#define DSTACK_KEYTOOL_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct kt_staged_file {
    const char *path; /* target (borrowed) */
    char *tmp;        /* written, fsync'd temporary; NULL once renamed or discarded */
} kt_staged_file;

/* Owner of the files written: (uid_t)-1 / (gid_t)-1 keep the writer's. */
typedef struct kt_file_owner {
    uid_t uid;
    gid_t gid;
} kt_file_owner;

/* chown(2)'s "leave unchanged" for both ids. */
#define KT_OWNER_KEEP ((kt_file_owner){.uid = (uid_t)~0u, .gid = (gid_t)~0u})

/* Parses "USER[:GROUP]" (names or numeric ids; GROUP defaults to USER's primary group).
 * On failure writes a message naming the unknown part into msg and returns false. */
bool kt_parse_owner(const char *spec, kt_file_owner *owner, char *msg, size_t msglen);

/* Writes `data` to a new temporary next to `path` with `mode` and `owner`. On failure
 * nothing is left behind and errno says why. */
bool kt_stage_file(kt_staged_file *f, const char *path, const unsigned char *data, size_t len,
                   mode_t mode, kt_file_owner owner);

/* Renames every staged file over its target, then fsyncs the directories. On a failed
 * rename the remaining temporaries are removed, *failed_path names the target and errno
 * says why. */
bool kt_commit_files(kt_staged_file *files, size_t n, const char **failed_path);

/* True when `a` and `b` name one file: the same existing inode (hard links, symlinks), or, for
 * files not yet there, the same name in the same directory (`k.pem` and `./k.pem`). */
bool kt_same_file(const char *a, const char *b);

/* Removes staged temporaries that were not committed. */
void kt_discard_files(kt_staged_file *files, size_t n);

#endif
