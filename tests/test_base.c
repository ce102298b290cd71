/* test_base.c - the base module: JSON reader, SHA-256, RNG, error text, atomic writes. */
#define _DEFAULT_SOURCE
#include "json.h"
#include "sha256.h"
#include "testutil.h"

#include <unistd.h>

static struct dg_json *parse_ok(const char *s)
{
    struct dg_json *doc = NULL;
    int rc = dg_json_parse(s, strlen(s), &doc);
    if (rc != DG_OK)
        fail_msg("'%s' should parse: %s", s, dg_errmsg());
    return doc;
}

static void test_json_values(void **state)
{
    (void)state;
    struct dg_json *doc =
        parse_ok(" {\"a\": [1, -2.5e1, true, false, null], \"b\": \"x\\u00e9\\n\\\"\","
                 " \"c\": {}, \"d\": []} ");
    const struct dg_json_node *root = dg_json_root(doc);
    assert_int_equal(root->type, DG_JSON_OBJECT);
    assert_int_equal(root->n_children, 4);
    const struct dg_json_node *a = dg_json_get(doc, root, "a");
    assert_int_equal(a->type, DG_JSON_ARRAY);
    assert_int_equal(a->n_children, 5);
    const struct dg_json_node *e = dg_json_child(doc, a);
    assert_true(e->num == 1.0);
    e = dg_json_next(doc, e);
    assert_true(e->num == -25.0);
    assert_int_equal(dg_json_next(doc, e)->type, DG_JSON_TRUE);
    const struct dg_json_node *b = dg_json_get(doc, root, "b");
    assert_string_equal(b->str, "x\xc3\xa9\n\"");
    assert_int_equal(b->len, 5);
    assert_int_equal(dg_json_get(doc, root, "c")->n_children, 0);
    assert_null(dg_json_get(doc, root, "missing"));
    dg_json_free(doc);
}

static void test_json_surrogates(void **state)
{
    (void)state;
    struct dg_json *doc = parse_ok("\"\\ud83d\\ude00\"");
    assert_string_equal(dg_json_root(doc)->str, "\xf0\x9f\x98\x80");
    dg_json_free(doc);
}

static void test_json_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"",      "{",           "[1,]",        "{\"a\" 1}", "01",
                         "1.",    "-",           "\"abc",       "tru",       "[1] 2",
                         "{1:2}", "\"\\x\"",     "\"\\ud800\"", "\"a\x01\"", "\"\\u0000\"",
                         "1e",    "[\"\\u12\"]", "{\"a\":}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct dg_json *doc = NULL;
        int rc = dg_json_parse(bad[i], strlen(bad[i]), &doc);
        if (rc != DG_EFORMAT)
            fail_msg("'%s' should be rejected, got %d", bad[i], rc);
        assert_null(doc);
        assert_true(strstr(dg_errmsg(), "bad JSON") != NULL);
    }
}

static void test_json_depth_limit(void **state)
{
    (void)state;
    char deep[300];
    memset(deep, '[', 200);
    deep[200] = '\0';
    struct dg_json *doc = NULL;
    assert_int_equal(dg_json_parse(deep, 200, &doc), DG_EFORMAT);
    assert_true(strstr(dg_errmsg(), "deeply") != NULL);
    /* 64 levels are fine. */
    char ok[130];
    for (int i = 0; i < 64; i++) {
        ok[i] = '[';
        ok[64 + i] = ']';
    }
    doc = NULL;
    assert_int_equal(dg_json_parse(ok, 128, &doc), DG_OK);
    dg_json_free(doc);
}

static void sha_hex(const char *msg, size_t n, char hex[65])
{
    struct dg_sha256 s;
    dg_sha256_init(&s);
    dg_sha256_update(&s, msg, n);
    dg_sha256_hex(&s, hex);
}

static void test_sha256_vectors(void **state)
{
    (void)state;
    char hex[65];
    sha_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A million 'a' fed in odd-sized pieces. */
    struct dg_sha256 s;
    dg_sha256_init(&s);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t k = left < sizeof a ? left : sizeof a;
        dg_sha256_update(&s, a, k);
        left -= k;
    }
    dg_sha256_hex(&s, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_rng(void **state)
{
    (void)state;
    struct dg_rng a, b;
    dg_rng_seed(&a, 7);
    dg_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        assert_true(dg_rng_next(&a) == dg_rng_next(&b));
    char hex[65];
    dg_rng_to_hex(&a, hex);
    struct dg_rng c;
    assert_int_equal(dg_rng_from_hex(&c, hex), DG_OK);
    assert_true(dg_rng_next(&a) == dg_rng_next(&c));
    assert_int_equal(dg_rng_from_hex(&c, "xyz"), DG_EFORMAT);
    /* Uniform and bounded draws stay in range and look uniform. */
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        float u = dg_rng_uniform(&a);
        assert_true(u >= 0.0f && u < 1.0f);
        uint32_t k = dg_rng_below(&a, 10);
        assert_true(k < 10);
        counts[k]++;
    }
    for (int k = 0; k < 10; k++)
        assert_true(counts[k] > 9500 && counts[k] < 10500);
}

static void test_errmsg_prefix_self(void **state)
{
    (void)state;
    dg_fail(DG_EIO, "inner %d", 42);
    assert_int_equal(dg_fail(DG_EFORMAT, "outer: %s", dg_errmsg()), DG_EFORMAT);
    assert_string_equal(dg_errmsg(), "outer: inner 42");
    size_t out;
    assert_int_equal(dg_mul_size(SIZE_MAX / 2, 3, &out), DG_ENOMEM);
    assert_int_equal(dg_mul_size(1000, 1000, &out), DG_OK);
    assert_int_equal(out, 1000000);
}

static int write_hello(struct dg_writer *wr, void *ctx)
{
    (void)ctx;
    return dg_write_bytes(wr, "hello", 5);
}

static int write_fails(struct dg_writer *wr, void *ctx)
{
    (void)ctx;
    dg_write_bytes(wr, "partial", 7);
    return dg_fail(DG_EIO, "simulated failure");
}

static void test_atomic_write(void **state)
{
    (void)state;
    char path[] = "/tmp/dg_test_atomic_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(dg_write_atomic(path, write_hello, NULL), DG_OK);
    unsigned char *data;
    size_t n;
    assert_int_equal(dg_read_file(path, 100, &data, &n), DG_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(data, "hello", 5);
    free(data);
    /* A failing writer leaves the old file intact and no temporary behind. */
    assert_int_equal(dg_write_atomic(path, write_fails, NULL), DG_EIO);
    assert_int_equal(dg_read_file(path, 100, &data, &n), DG_OK);
    assert_memory_equal(data, "hello", 5);
    free(data);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0);
    /* Size limit on reading. */
    assert_int_equal(dg_read_file(path, 4, &data, &n), DG_EARG);
    unlink(path);
    assert_int_equal(dg_read_file(path, 4, &data, &n), DG_EIO);
    /* An unwritable directory is an error, not a crash. */
    assert_int_equal(dg_write_atomic("/nonexistent-dir/x", write_hello, NULL), DG_EIO);
}

/* The writer: separators, nesting, escapes (control bytes, quotes, invalid UTF-8 as U+FFFD),
 * numbers (NaN as null), compact form; and what it writes the reader reads back. */
static void test_json_writer(void **state)
{
    (void)state;
    struct dg_jw w;
    dg_jw_init(&w, 0);
    dg_jw_object(&w);
    dg_jw_key(&w, "image");
    dg_jw_str(&w, "a\"b\\c\n\x01\xff\xc3\xa9\xed\xa0\x80z");
    dg_jw_key(&w, "n");
    dg_jw_int(&w, -42);
    dg_jw_key(&w, "xs");
    dg_jw_array(&w);
    dg_jw_num(&w, 0.123456, 4);
    dg_jw_num(&w, NAN, 3);
    dg_jw_array(&w);
    dg_jw_end(&w);
    dg_jw_object(&w);
    dg_jw_key(&w, "ok");
    dg_jw_bool(&w, 1);
    dg_jw_end(&w);
    dg_jw_end(&w);
    dg_jw_end(&w);
    const char *text;
    size_t len;
    assert_int_equal(dg_jw_text(&w, &text, &len), DG_OK);
    assert_string_equal(text, "{\"image\": \"a\\\"b\\\\c\\u000a\\u0001\\ufffd\xc3\xa9"
                              "\\ufffd\\ufffd\\ufffdz\", \"n\": -42, \"xs\": [0.1235, null, [], "
                              "{\"ok\": true}]}");
    assert_int_equal(len, strlen(text));
    struct dg_json *doc = parse_ok(text);
    const struct dg_json_node *img = dg_json_get(doc, dg_json_root(doc), "image");
    assert_non_null(img);
    assert_string_equal(img->str, "a\"b\\c\n\x01\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd"
                                  "\xef\xbf\xbdz");
    dg_json_free(doc);
    dg_jw_reset(&w);
    w.compact = 1;
    dg_jw_object(&w);
    dg_jw_key(&w, "a");
    dg_jw_array(&w);
    dg_jw_int(&w, 1);
    dg_jw_int(&w, 2);
    dg_jw_end(&w);
    dg_jw_key(&w, "b");
    dg_jw_str(&w, "");
    dg_jw_end(&w);
    assert_int_equal(dg_jw_text(&w, &text, NULL), DG_OK);
    assert_string_equal(text, "{\"a\":[1,2],\"b\":\"\"}");
    dg_jw_end(&w); /* ending nothing is a broken contract, reported */
    assert_int_equal(dg_jw_text(&w, &text, NULL), DG_EARG);
    dg_jw_reset(&w);
    for (int i = 0; i <= DG_JW_DEPTH; i++)
        dg_jw_array(&w);
    assert_int_equal(dg_jw_text(&w, &text, NULL), DG_EARG);
    dg_jw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_json_surrogates),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_json_depth_limit),
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_errmsg_prefix_self),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
