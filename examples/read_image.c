/* read_image.c - libdigits from a program: reads each image file named on the command line and
 * prints one JSON line per image, as `digits scan --json` prints it. (A program that has its
 * frames in memory calls digits_read() with the pixels instead of digits_read_file().)
 *
 *   cc read_image.c $(pkg-config --cflags --libs digits) -o read_image
 *   ./read_image page.png photo.jpg */
#include <stdio.h>

#include <digits.h>

/* s as a JSON string. */
static void put_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void put_result(const char *name, const digits_result *r)
{
    printf("{\"image\": ");
    put_string(name);
    printf(", \"width\": %d, \"height\": %d, \"digits\": [", r->width, r->height);
    for (int i = 0; i < r->n_digits; i++) {
        const digits_digit *d = &r->digits[i];
        printf("%s{\"digit\": %d, \"confidence\": %.4f, \"top3\": [[%d, %.4f], [%d, %.4f], [%d, "
               "%.4f]], \"box\": [%d, %d, %d, %d]}",
               i ? ", " : "", d->digit, d->confidence, d->top3[0], d->top3_p[0], d->top3[1],
               d->top3_p[1], d->top3[2], d->top3_p[2], d->box[0], d->box[1], d->box[2], d->box[3]);
    }
    printf("], \"numbers\": [");
    for (int i = 0; i < r->n_numbers; i++) {
        const digits_number *n = &r->numbers[i];
        printf("%s{\"text\": \"%s\", \"confidence\": %.4f, \"box\": [%d, %d, %d, %d]}",
               i ? ", " : "", n->text, n->confidence, n->box[0], n->box[1], n->box[2], n->box[3]);
    }
    printf("]");
    if (r->light >= 0.0f) { /* what the reader saw of the camera */
        printf(", \"camera\": {\"light\": %.1f, \"noise\": %.4f, \"blur\": %.3f, \"hints\": [",
               r->light, r->noise, r->blur);
        static const char *const names[] = {"dark", "noisy", "blurred"};
        for (int k = 0, n = 0; k < 3; k++)
            if (r->hints & (1u << k))
                printf("%s\"%s\"", n++ ? ", " : "", names[k]);
        printf("]");
        if (r->hints)
            printf(", \"advice\": \"%s\"", r->advice);
        printf("}");
    }
    printf(", \"ms\": %.2f}\n", r->ms);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: read_image IMAGE... (libdigits %s)\n", digits_version());
        return 2;
    }
    digits_reader *rd;
    if (digits_reader_open(NULL, 1, &rd) != DIGITS_OK) {
        fprintf(stderr, "read_image: %s\n", digits_errmsg());
        return 1;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        digits_result *r;
        if (digits_read_file(rd, argv[i], &r) != DIGITS_OK) {
            fprintf(stderr, "read_image: %s\n", digits_errmsg());
            status = 1;
            continue;
        }
        put_result(argv[i], r);
        digits_result_free(r);
    }
    digits_reader_close(rd);
    return status;
}
