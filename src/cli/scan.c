/* scan.c - `digits scan`: find and read every digit and number in image files. One line per
 * number (or one JSON line per image), an optional annotated copy, and a per-image error that
 * does not stop the other images. Many images are read by --jobs threads, each with its own
 * scanner over the one model; the output keeps the input's order (each image's text is kept
 * until those before it are out), with a progress bar on a terminal and a summary. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recog.h"
#include "vis.h"

static const char *const HELP =
    "usage: digits scan [options] IMAGE...\n"
    "Find and read the handwritten digits and numbers in photos or scans.\n"
    "  --model FILE           model (default <root>/models/robust.safetensors, which also knows\n"
    "                         what is not a digit)\n"
    "  --json                 one JSON line per image: image, width, height, digits, numbers, ms\n"
    "  --annotate OUT.png     write the image with boxes and readings (OUT-N.png for several)\n"
    "  --min-confidence X     below this a candidate is rejected, not read (default 0.5)\n"
    "  --polarity auto|dark|light   ink darker or lighter than the paper (default auto)\n"
    "  --save-mask OUT.png    write the ink mask the digits were found in (one image only)\n"
    "  --rejected             also say why each candidate was not read (unsure, edge, in a word,\n"
    "                         beside letters, at the border, clutter, context, lone 1, ...);\n"
    "                         with --json a \"rejected\" list: box, why, top3, not_digit,\n"
    "                         two_digits\n"
    "  --jobs N               read N images at a time (default: one per core)\n"
    "IMAGE may be a directory (its images, recursively) or - (paths, one per line, on stdin).\n"
    "Images up to 64 megapixels and 256 MB decoded (PNG, JPEG, BMP, PGM, ...; 16-bit colour:\n"
    "half as many pixels); from a pipe up to 256 MB. Output keeps the input's order.\n";

/* The image's JSON line onto f (with the rejected candidates when rejected is set). */
static void print_json(FILE *f, const char *path, const struct vis_image *img,
                       const struct rec_result *r, double ms, int rejected)
{
    struct dg_jw w;
    dg_jw_init(&w, 0);
    dg_jw_object(&w);
    dg_jw_key(&w, "image");
    dg_jw_str(&w, path);
    dg_jw_key(&w, "width");
    dg_jw_int(&w, img->w);
    dg_jw_key(&w, "height");
    dg_jw_int(&w, img->h);
    rec_result_write_json(&w, r);
    if (rejected)
        rec_rejected_write_json(&w, r);
    dg_jw_key(&w, "ms");
    dg_jw_num(&w, ms, 3);
    dg_jw_end(&w);
    const char *text;
    size_t len;
    if (dg_jw_text(&w, &text, &len) == DG_OK)
        fwrite(text, 1, len, f), fputc('\n', f);
    dg_jw_free(&w);
}

/* Green boxes and digits for readings, red boxes and "?" for rejected candidates, each number's
 * text in blue above it. */
static int annotate(const char *out, const struct vis_image *img, const struct rec_result *r)
{
    uint8_t *rgb = malloc((size_t)img->w * img->h * 3);
    if (!rgb)
        return dg_fail(DG_ENOMEM, "out of memory");
    for (size_t i = 0; i < (size_t)img->w * img->h; i++)
        memset(rgb + 3 * i, img->px[i], 3);
    static const uint8_t green[3] = {0, 200, 0}, red[3] = {230, 0, 0}, blue[3] = {0, 80, 255};
    const int t = img->w > 800 ? 3 : 2;
    for (int i = 0; i < r->n_digits + r->n_rejected; i++) {
        const struct rec_digit *d = &r->digits[i];
        const uint8_t *col = d->digit >= 0 ? green : red;
        vis_draw_rect(rgb, img->w, img->h, d->box.x - t, d->box.y - t, d->box.w + 2 * t,
                      d->box.h + 2 * t, t, col);
        char label[2] = {d->digit >= 0 ? (char)('0' + d->digit) : '?', 0};
        int scale = d->box.h / 12 > 2 ? d->box.h / 12 : 2;
        /* under the box, centred: beside it the label would run into the next digit's box */
        vis_draw_text(rgb, img->w, img->h, d->box.x + d->box.w / 2 - 3 * scale / 2,
                      d->box.y + d->box.h + 2 * t + 2, label, scale, col);
    }
    for (int i = 0; i < r->n_numbers; i++) {
        const struct rec_number *nb = &r->numbers[i];
        int scale = nb->box.h / 10 > 2 ? nb->box.h / 10 : 2;
        vis_draw_text(rgb, img->w, img->h, nb->box.x, nb->box.y - 6 * scale - 2 * t, nb->text,
                      scale, blue);
    }
    int rc = vis_png_write(out, rgb, img->w, img->h, 3);
    free(rgb);
    return rc;
}

/* ---- the images to read: arguments, directories (recursively) and - (a list on stdin) ------ */

struct paths {
    char **v;
    int n, cap;
};

static int add_path(struct paths *p, const char *path, size_t len)
{
    if (p->n == p->cap) {
        const int cap = p->cap ? 2 * p->cap : 64;
        char **v = realloc(p->v, (size_t)cap * sizeof *v);
        if (!v)
            return dg_fail(DG_ENOMEM, "out of memory for the list of images");
        p->v = v, p->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return dg_fail(DG_ENOMEM, "out of memory for the list of images");
    memcpy(s, path, len);
    s[len] = '\0';
    p->v[p->n++] = s;
    return DG_OK;
}

static void free_paths(struct paths *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether a file name ends in an image extension the loader knows. */
static int image_name(const char *name)
{
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".pgm",
                                      ".ppm", ".pnm", ".tga",  ".gif"};
    const char *dot = strrchr(name, '.');
    if (!dot)
        return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot, ext[i]))
            return 1;
    return 0;
}

/* The images under dir, depth first, each directory's entries in name order; hidden entries and
 * symbolic links to directories are skipped (no loops). */
static int add_dir(struct paths *p, const char *dir, int depth)
{
    if (depth > 64)
        return dg_fail(DG_EARG, "%s: directories nested over 64 deep", dir);
    DIR *d = opendir(dir);
    if (!d)
        return dg_fail(DG_EIO, "cannot read the directory %s: %s", dir, strerror(errno));
    struct paths here = {0};
    int rc = DG_OK;
    for (struct dirent *e; rc == DG_OK && (e = readdir(d));)
        if (e->d_name[0] != '.') {
            char full[4096];
            const int len = snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
            if (len > 0 && (size_t)len < sizeof full)
                rc = add_path(&here, full, (size_t)len);
        }
    closedir(d);
    if (here.n > 1)
        qsort(here.v, (size_t)here.n, sizeof *here.v, by_name);
    for (int i = 0; rc == DG_OK && i < here.n; i++) {
        struct stat st, lst;
        if (stat(here.v[i], &st) != 0 || lstat(here.v[i], &lst) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && !S_ISLNK(lst.st_mode))
            rc = add_dir(p, here.v[i], depth + 1);
        else if (S_ISREG(st.st_mode) && image_name(here.v[i]))
            rc = add_path(p, here.v[i], strlen(here.v[i]));
    }
    free_paths(&here);
    return rc;
}

static int add_stdin(struct paths *p)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = DG_OK;
    while (rc == DG_OK && (len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len > 0)
            rc = add_path(p, line, (size_t)len);
    }
    free(line);
    return rc;
}

/* The images named by args: files as they are (a missing one is the reader's error, in its
 * place), directories walked, - read from stdin once. */
static int collect(char **args, int n_args, struct paths *p)
{
    int stdin_read = 0;
    for (int i = 0; i < n_args; i++) {
        struct stat st;
        int rc;
        if (!strcmp(args[i], "-")) {
            if (stdin_read++)
                continue;
            rc = add_stdin(p);
        } else if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            const int before = p->n;
            rc = add_dir(p, args[i], 0);
            if (rc == DG_OK && p->n == before)
                rc = dg_fail(DG_EARG, "%s holds no images (.png, .jpg, .bmp, .pgm, ...)", args[i]);
        } else {
            rc = add_path(p, args[i], strlen(args[i]));
        }
        if (rc != DG_OK)
            return rc;
    }
    return DG_OK;
}

/* ---- reading them: one scanner per job, output in the input's order ------------------------- */

struct scan_opts {
    int json, several, rejected;
    const char *annotate_path, *mask_path;
};

/* One image's outcome: its output text (stdout) and error line (stderr), kept until the images
 * before it are out. */
struct item {
    char *out;
    size_t out_len;
    char err[700];
    int failed, done;
};

struct pool {
    const struct scan_opts *o;
    const struct paths *paths;
    struct item *items;
    int next; /* the next image to take, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* an item is done */
};

struct job {
    struct pool *pool;
    struct rec_scanner *sc;
    struct rec_result *r;
    pthread_t thread;
};

/* The image's plain lines onto f: a summary, each number, a hint when the picture was too dark,
 * grainy or blurred to read well (rec_camera), and with rejected each rejected candidate and why.
 */
static void print_plain(FILE *f, const char *path, const struct rec_result *r, double ms,
                        int rejected)
{
    fprintf(f, "%s: %d number%s, %d digit%s", path, r->n_numbers, r->n_numbers == 1 ? "" : "s",
            r->n_digits, r->n_digits == 1 ? "" : "s");
    if (r->n_rejected)
        fprintf(f, ", %d unsure candidate%s rejected", r->n_rejected,
                r->n_rejected == 1 ? "" : "s");
    fprintf(f, " (%.1f ms)\n", ms);
    for (int i = 0; i < r->n_numbers; i++)
        fprintf(f, "  %s  (confidence %.1f%%)\n", r->numbers[i].text,
                100.0 * r->numbers[i].confidence);
    if (r->camera.hints)
        fprintf(f, "  hint: %s\n", rec_hint_text(r->camera.hints));
    for (int i = r->n_digits; rejected && i < r->n_digits + r->n_rejected; i++) {
        const struct rec_digit *d = &r->digits[i];
        fprintf(f, "  rejected at %d,%d %dx%d: %s (%d %.1f%%, not a digit %.1f%%)\n", d->box.x,
                d->box.y, d->box.w, d->box.h, rec_why_name(d->why), d->top3[0],
                100.0 * d->top3_p[0], 100.0 * d->junk);
    }
}

/* Reads image k into its item with scanner sc. */
static void scan_one(const struct scan_opts *o, struct rec_scanner *sc, struct rec_result *r,
                     const char *path, int k, struct item *it)
{
    FILE *f = open_memstream(&it->out, &it->out_len);
    if (!f) {
        snprintf(it->err, sizeof it->err, "%s: out of memory", path);
        it->failed = 1;
        return;
    }
    struct vis_image img;
    if (vis_image_load(path, &img) != DG_OK) {
        snprintf(it->err, sizeof it->err, "%s", dg_errmsg());
        it->failed = 1;
        fclose(f);
        return;
    }
    const double t0 = dg_now();
    const int rc = rec_scan(sc, &img, r);
    const double ms = (dg_now() - t0) * 1e3;
    if (rc != DG_OK) {
        snprintf(it->err, sizeof it->err, "%s: %s", path, dg_errmsg());
        it->failed = 1;
    } else if (o->json) {
        print_json(f, path, &img, r, ms, o->rejected);
    } else {
        print_plain(f, path, r, ms, o->rejected);
    }
    if (rc == DG_OK && o->mask_path) {
        const struct vis_image *mk = rec_scanner_mask(sc);
        if (vis_png_write(o->mask_path, mk->px, mk->w, mk->h, 1) != DG_OK) {
            snprintf(it->err, sizeof it->err, "cannot write %s: %s", o->mask_path, dg_errmsg());
            it->failed = 1;
        }
    }
    if (rc == DG_OK && o->annotate_path) {
        char out[4200];
        const char *a = o->annotate_path, *dot = strrchr(a, '.');
        if (o->several && dot)
            snprintf(out, sizeof out, "%.*s-%d%s", (int)(dot - a), a, k + 1, dot);
        else if (o->several)
            snprintf(out, sizeof out, "%s-%d", a, k + 1);
        else
            snprintf(out, sizeof out, "%s", a);
        if (annotate(out, &img, r) != DG_OK) {
            snprintf(it->err, sizeof it->err, "%s", dg_errmsg());
            it->failed = 1;
        }
    }
    vis_image_destroy(&img);
    fclose(f);
}

static void *run_job(void *arg)
{
    struct job *jb = arg;
    struct pool *pl = jb->pool;
    nn_set_threads(1); /* one core per job: the jobs are the parallelism */
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        const int k = pl->next < pl->paths->n ? pl->next++ : -1;
        pthread_mutex_unlock(&pl->mu);
        if (k < 0)
            return NULL;
        struct item it = {0};
        scan_one(pl->o, jb->sc, jb->r, pl->paths->v[k], k, &it);
        pthread_mutex_lock(&pl->mu);
        pl->items[k] = it;
        pl->items[k].done = 1;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
    }
}

/* A progress bar on stderr: done of n, images per second. */
static void progress(int done, int n, double t0)
{
    enum { WIDTH = 30 };
    const int fill = (int)((long)WIDTH * done / n);
    const double dt = dg_now() - t0;
    fprintf(stderr, "\r[%.*s%*s] %d/%d  %.1f images/s\033[K", fill,
            "==============================", WIDTH - fill, "", done, n, dt > 0 ? done / dt : 0.0);
    fflush(stderr);
}

/* Reads every image with jobs threads; prints in order. Returns whether any image failed. */
static int scan_all(const char *cmd, const struct nn_model *m, const struct rec_params *params,
                    const struct scan_opts *o, const struct paths *paths, int jobs)
{
    jobs = jobs < paths->n ? jobs : paths->n;
    struct pool pl = {
        .o = o, .paths = paths, .items = calloc((size_t)paths->n, sizeof(struct item))};
    struct job *jb = calloc((size_t)jobs, sizeof *jb);
    int failed = 0, started = 0;
    if (!pl.items || !jb) {
        free(pl.items);
        free(jb);
        return cli_fail(cmd, "out of memory for %d images", paths->n);
    }
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.cv, NULL);
    for (int j = 0; j < jobs; j++) {
        jb[j].pool = &pl;
        jb[j].r = malloc(sizeof *jb[j].r);
        if (!jb[j].r || rec_scanner_new(m, params, &jb[j].sc) != DG_OK) {
            failed = cli_fail(cmd, "%s", jb[j].r ? dg_errmsg() : "out of memory");
            break;
        }
    }
    for (int j = 0; !failed && j < jobs; j++)
        if (pthread_create(&jb[j].thread, NULL, run_job, &jb[j]) == 0)
            started++;
    if (!failed && !started)
        failed = cli_fail(cmd, "cannot start a thread to read with");
    const int bar = started && paths->n > 1 && isatty(2), out_tty = isatty(1);
    const double t0 = dg_now();
    for (int k = 0; started && k < paths->n; k++) {
        pthread_mutex_lock(&pl.mu);
        while (!pl.items[k].done)
            pthread_cond_wait(&pl.cv, &pl.mu);
        struct item it = pl.items[k];
        pl.items[k].out = NULL;
        pthread_mutex_unlock(&pl.mu);
        if (bar && out_tty)
            fputs("\r\033[K", stderr);
        if (it.out)
            fwrite(it.out, 1, it.out_len, stdout);
        fflush(stdout);
        free(it.out);
        if (it.failed)
            failed = cli_fail(cmd, "%s", it.err) || 1;
        if (bar)
            progress(k + 1, paths->n, t0);
    }
    for (int j = 0; j < jobs; j++) {
        if (j < started)
            pthread_join(jb[j].thread, NULL);
        rec_scanner_free(jb[j].sc);
        free(jb[j].r);
    }
    if (bar)
        fputs("\r\033[K", stderr);
    if (started && paths->n > 1) {
        const double dt = dg_now() - t0;
        fprintf(stderr, "digits scan: %d images in %.2f s (%.1f images/s) with %d job%s\n",
                paths->n, dt, dt > 0 ? paths->n / dt : 0.0, started, started == 1 ? "" : "s");
    }
    pthread_mutex_destroy(&pl.mu);
    pthread_cond_destroy(&pl.cv);
    free(pl.items);
    free(jb);
    return failed;
}

int cmd_scan(int argc, char **argv)
{
    const char *cmd = "scan";
    const char *model_path = cli_scan_model();
    struct scan_opts o = {0};
    long cores = sysconf(_SC_NPROCESSORS_ONLN), jobs = cores < 1 ? 1 : cores > 64 ? 64 : cores;
    struct rec_params params;
    rec_default_params(&params);
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},     {"json", 0, 0, 'j'},
        {"annotate", 1, 0, 'a'},  {"min-confidence", 1, 0, 'c'},
        {"polarity", 1, 0, 'p'},  {"help", 0, 0, 'h'},
        {"save-mask", 1, 0, 's'}, {"jobs", 1, 0, 'J'},
        {"rejected", 0, 0, 'R'},  {0, 0, 0, 0},
    };
    opterr = 0;
    int c, bad;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'j': o.json = 1; break;
        case 'R': o.rejected = 1; break;
        case 'a': o.annotate_path = optarg; break;
        case 's': o.mask_path = optarg; break;
        case 'J':
            if ((bad = cli_whole_option(cmd, "--jobs", optarg, 1, 256, &jobs)))
                return bad;
            break;
        case 'c': {
            double v;
            if ((bad = cli_number_option(cmd, "--min-confidence", optarg, 0.0, 1.0, &v)))
                return bad;
            params.min_confidence = (float)v;
            break;
        }
        case 'p':
            if (cli_parse_polarity(optarg, &params.threshold.polarity))
                return cli_usage(cmd, "--polarity wants auto, dark or light, not '%s'", optarg);
            break;
        case 'h': fputs(HELP, stdout); return 0;
        case ':':
            return cli_usage(cmd, "%s needs a value (see digits scan --help)", argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s' (see digits scan --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage(cmd, "name at least one image (see digits scan --help)");
    struct paths paths = {0};
    if (collect(argv + optind, argc - optind, &paths) != DG_OK) {
        free_paths(&paths);
        return cli_fail(cmd, "%s", dg_errmsg());
    }
    if (paths.n == 0) {
        free_paths(&paths);
        return cli_usage(cmd, "no images named (stdin gave no paths)");
    }
    if (o.mask_path && paths.n != 1) {
        free_paths(&paths);
        return cli_usage(cmd, "--save-mask works with one image at a time");
    }
    o.several = paths.n > 1;
    nn_set_threads(1);
    struct nn_model *m;
    if (cli_load_model(cmd, model_path, &m, NULL)) {
        free_paths(&paths);
        return 1;
    }
    const int failed = scan_all(cmd, m, &params, &o, &paths, (int)jobs);
    nn_model_free(m);
    free_paths(&paths);
    return failed;
}
