/* cliutil.h - running the `digits` program from tests: a temporary directory per test program,
 * run() through the shell with the output captured, and helpers to read it. Header-only. */
#ifndef CLIUTIL_H
#define CLIUTIL_H

#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "testutil.h"

static char tmpdir[64];
static char out_path[256];

static inline const char *digits(void)
{
    const char *d = getenv("DIGITS");
    return d && *d ? d : "build/digits";
}

/* Every line of out_path that starts with '{' must be one valid JSON value: whatever a test feeds
 * the program, its JSON output parses. */
static inline void check_json_lines(const char *args)
{
    FILE *f = fopen(out_path, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[0] != '{')
            continue;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        struct dg_json *doc = NULL;
        if (dg_json_parse(line, (size_t)len, &doc) != DG_OK) {
            fclose(f);
            fail_msg("digits %s printed a line that is not JSON (%s): %.300s", args, dg_errmsg(),
                     line);
        }
        dg_json_free(doc);
    }
    free(line);
    fclose(f);
}

/* Runs `digits ARGS` through the shell; stdout+stderr go to out_path. Returns the exit status. */
static inline int run(const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", digits(), args, out_path);
    int st = system(cmd);
    check_json_lines(args);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline char *output(void)
{
    static char buf[1 << 20];
    FILE *f = fopen(out_path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static inline int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static inline int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dg_test_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(out_path, sizeof out_path, "%s/out.txt", tmpdir);
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
