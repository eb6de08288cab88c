/* Replay-and-mutate driver for the libFuzzer-style harnesses of tests/fuzz/, used when the
 * harnesses are built with the normal compiler (every test run, plain and sanitizer builds).
 *
 *   fuzz_<name> [--seconds S] [--iterations N] SEED...
 *
 * SEED is dir:PATH — every file of a directory: *.hex as hex text ('#' comments, any
 * spacing), *.txt as raw text without its final newline, *.bin as raw bytes — or a
 * '+'-joined concatenation of
 *   file:PATH            the bytes of a file (fixtures, read in place at test time)
 *   json-hex:PATH:FIELD  hex-decoded string FIELD of the top-level JSON object in PATH
 *   json-str:PATH:FIELD  the text of string FIELD of that object
 *   hex:HEX              literal bytes (e.g. a mode byte or length prefix)
 * and opt:SEED is SEED when every file it names exists, else skipped with one line on stdout
 * (upstream fixtures, which may be absent). Any other missing file is an error (a test that
 * silently tests nothing cannot fail).
 *
 * Every seed is run as is; then N deterministic mutations (xorshift PRNG with a fixed seed:
 * bit flips, interesting bytes, truncations, insertions, deletions, splices with other seeds,
 * little-endian length-field tweaks) run until the iteration count or the time budget is
 * used up. A crash, sanitizer report or failed invariant (abort) fails the test; the input
 * that caused it is written to fuzz-crash-<name>.hex first so it can become a seed.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <dstack/keys.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional one-time set-up, as libFuzzer calls it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define FUZZ_MAX_INPUT (1u << 20)

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

typedef struct corpus {
    buf *items;
    size_t n;
} corpus;

static const char *harness_name = "fuzz";
static const uint8_t *current;
static size_t current_len;

static void die(const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s\n", harness_name, what, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static void add(corpus *c, uint8_t *p, size_t n)
{
    buf *grown = realloc(c->items, (c->n + 1) * sizeof(*grown));

    if (grown == NULL)
        die("out of memory", NULL);
    c->items = grown;
    c->items[c->n++] = (buf){p, n};
}

static uint8_t *read_path(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    long size;

    if (f == NULL)
        die("cannot open seed", path);
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && (size_t)size <= FUZZ_MAX_INPUT &&
        fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)size + 1)) != NULL &&
        fread(p, 1, (size_t)size, f) == (size_t)size) {
        p[size] = '\0';
        *len = (size_t)size;
    } else {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p == NULL)
        die("cannot read seed", path);
    return p;
}

/* Hex text with '#' comments to end of line and any whitespace; NULL on a bad digit. */
static uint8_t *parse_hex_text(const char *text, size_t len, size_t *out_len)
{
    uint8_t *out = malloc(len / 2 + 1);
    size_t n = 0;
    int hi = -1;

    if (out == NULL)
        die("out of memory", NULL);
    for (size_t i = 0; i < len; i++) {
        int v;

        if (text[i] == '#') {
            while (i < len && text[i] != '\n')
                i++;
            continue;
        }
        if (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r')
            continue;
        if ((v = dstack_hex_digit(text[i])) < 0) {
            free(out);
            return NULL;
        }
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0) {
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}

static uint8_t *json_field(char *spec, int hex, size_t *out_len)
{
    char *colon = strrchr(spec, ':');
    json_object *root, *v;
    uint8_t *text, *p;
    size_t len, n;

    if (colon == NULL)
        die("seed needs PATH:FIELD", spec);
    *colon = '\0';
    text = read_path(spec, &len);
    root = json_tokener_parse((const char *)text);
    if (root == NULL || !json_object_object_get_ex(root, colon + 1, &v) ||
        !json_object_is_type(v, json_type_string))
        die("no string field in JSON seed", colon + 1);
    len = (size_t)json_object_get_string_len(v);
    if (hex) {
        p = parse_hex_text(json_object_get_string(v), len, &n);
        if (p == NULL)
            die("field is not hex", colon + 1);
    } else {
        p = malloc(len + 1);
        if (p == NULL)
            die("out of memory", NULL);
        memcpy(p, json_object_get_string(v), len + 1);
        n = len;
    }
    json_object_put(root);
    free(text);
    *out_len = n;
    return p;
}

static void add_dir(corpus *c, const char *dir)
{
    struct dirent **names;
    int count = scandir(dir, &names, NULL, alphasort);

    if (count < 0)
        die("cannot list seed directory", dir);
    for (int i = 0; i < count; i++) {
        size_t nl = strlen(names[i]->d_name), len, n;
        char path[4096];
        uint8_t *text, *p;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (nl > 4 && strcmp(names[i]->d_name + nl - 4, ".hex") == 0) {
            text = read_path(path, &len);
            p = parse_hex_text((const char *)text, len, &n);
            if (p == NULL)
                die("bad hex seed", path);
            add(c, p, n);
            free(text);
        } else if (nl > 4 && strcmp(names[i]->d_name + nl - 4, ".txt") == 0) {
            text = read_path(path, &len);
            if (len > 0 && text[len - 1] == '\n')
                text[--len] = '\0';
            add(c, text, len);
        } else if (nl > 4 && strcmp(names[i]->d_name + nl - 4, ".bin") == 0) {
            text = read_path(path, &len);
            add(c, text, len);
        }
        free(names[i]);
    }
    free(names);
}

/* The first file an opt: seed names that cannot be read, or NULL. */
static const char *missing_file(const char *spec)
{
    static char path[4096];
    size_t n;

    for (const char *p = spec; *p != '\0'; p += n + (p[n] == '+')) {
        const char *file = NULL;
        size_t len = 0;

        n = strcspn(p, "+");
        if (strncmp(p, "file:", 5) == 0) {
            file = p + 5;
            len = n - 5;
        } else if (strncmp(p, "json-hex:", 9) == 0 || strncmp(p, "json-str:", 9) == 0) {
            file = p + 9;
            len = n - 9;
            while (len > 0 && file[len - 1] != ':')
                len--;
            if (len > 0)
                len--; /* PATH:FIELD → PATH */
        }
        if (file != NULL) {
            snprintf(path, sizeof(path), "%.*s", (int)len, file);
            if (access(path, R_OK) != 0)
                return path;
        }
    }
    return NULL;
}

/* A '+'-joined list of parts, concatenated. */
static void add_seed(corpus *c, char *spec)
{
    uint8_t *out = NULL, *part, *grown;
    size_t len = 0, n;
    char *save = NULL;

    for (char *tok = strtok_r(spec, "+", &save); tok != NULL; tok = strtok_r(NULL, "+", &save)) {
        if (strncmp(tok, "file:", 5) == 0)
            part = read_path(tok + 5, &n);
        else if (strncmp(tok, "json-hex:", 9) == 0)
            part = json_field(tok + 9, 1, &n);
        else if (strncmp(tok, "json-str:", 9) == 0)
            part = json_field(tok + 9, 0, &n);
        else if (strncmp(tok, "hex:", 4) == 0 &&
                 (part = parse_hex_text(tok + 4, strlen(tok + 4), &n)) != NULL)
            ;
        else
            die("bad seed", tok);
        if (len + n > FUZZ_MAX_INPUT || (grown = realloc(out, len + n + 1)) == NULL)
            die("seed too large", tok);
        out = grown;
        memcpy(out + len, part, n);
        len += n;
        free(part);
    }
    if (out == NULL)
        die("empty seed", NULL);
    add(c, out, len);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* One mutation of m (capacity FUZZ_MAX_INPUT). */
static void mutate(buf *m, const corpus *c)
{
    static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '"', '\\', '%', ':', '['};
    size_t pos = below(m->n), len;

    switch (rnd() % 8) {
    case 0: /* bit flip */
        if (m->n > 0)
            m->p[pos] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    case 1: /* interesting byte */
        if (m->n > 0)
            m->p[pos] = interesting[below(sizeof(interesting))];
        break;
    case 2: /* truncate */
        m->n = pos;
        break;
    case 3: /* delete a range */
        len = below(m->n - pos + 1);
        memmove(m->p + pos, m->p + pos + len, m->n - pos - len);
        m->n -= len;
        break;
    case 4: /* insert random bytes */
        len = 1 + below(16);
        if (m->n + len <= FUZZ_MAX_INPUT) {
            memmove(m->p + pos + len, m->p + pos, m->n - pos);
            for (size_t i = 0; i < len; i++)
                m->p[pos + i] = (uint8_t)rnd();
            m->n += len;
        }
        break;
    case 5: { /* splice: our prefix + another seed's suffix */
        const buf *o = &c->items[below(c->n)];
        size_t from = below(o->n + 1);

        len = o->n - from;
        if (pos + len <= FUZZ_MAX_INPUT) {
            memcpy(m->p + pos, o->p + from, len);
            m->n = pos + len;
        }
        break;
    }
    case 6: /* little-endian length field: nudge or blow up a 1/2/4-byte value */
        if (m->n >= 4 && pos + 4 <= m->n) {
            uint32_t v = (uint32_t)m->p[pos] | (uint32_t)m->p[pos + 1] << 8 |
                         (uint32_t)m->p[pos + 2] << 16 | (uint32_t)m->p[pos + 3] << 24;
            static const uint32_t big[] = {0x7fffffffu, 0xffffffffu, 0x10000u, 0x100u};

            v = (rnd() & 1) ? v + (uint32_t)below(5) - 2u : big[below(4)];
            for (int i = 0; i < 4; i++)
                m->p[pos + i] = (uint8_t)(v >> (8 * i));
        }
        break;
    default: /* duplicate a chunk in place (repeated structures, deep nesting) */
        len = below(m->n - pos + 1) % 64;
        if (m->n + len <= FUZZ_MAX_INPUT) {
            memmove(m->p + pos + len, m->p + pos, m->n - pos);
            m->n += len;
        }
        break;
    }
}

static void on_crash(int sig)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "fuzz-crash-%s.hex", harness_name);
    f = fopen(path, "w");
    if (f != NULL) {
        for (size_t i = 0; i < current_len; i++)
            fprintf(f, "%02x%s", current[i], (i + 1) % 32 == 0 ? "\n" : "");
        fprintf(f, "\n");
        fclose(f);
    }
    fprintf(stderr, "%s: signal %d on a %zu-byte input, saved to %s\n", harness_name, sig,
            current_len, path);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A copy in its own allocation, so ASan sees reads past the end of the input. */
static void run_one(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);

    if (copy == NULL)
        die("out of memory", NULL);
    memcpy(copy, p, n);
    current = copy;
    current_len = n;
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    corpus c = {NULL, 0};
    double seconds = 2.0, start;
    unsigned long iterations = 100000, done = 0;
    const char *slash = strrchr(argv[0], '/');
    buf m = {malloc(FUZZ_MAX_INPUT), 0};

    harness_name = slash != NULL ? slash + 1 : argv[0];
    if (m.p == NULL)
        die("out of memory", NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iterations = strtoul(argv[++i], NULL, 10);
        else if (strncmp(argv[i], "dir:", 4) == 0)
            add_dir(&c, argv[i] + 4);
        else if (strncmp(argv[i], "opt:", 4) == 0 && missing_file(argv[i] + 4) != NULL)
            printf("%s: optional seed skipped, %s is missing\n", harness_name,
                   missing_file(argv[i] + 4));
        else if (strncmp(argv[i], "opt:", 4) == 0)
            add_seed(&c, argv[i] + 4);
        else
            add_seed(&c, argv[i]);
    }
    if (c.n == 0)
        die("no seeds", NULL);
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    signal(SIGSEGV, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);

    for (size_t i = 0; i < c.n; i++)
        run_one(c.items[i].p, c.items[i].n);
    start = now();
    while (done < iterations && now() - start < seconds) {
        const buf *s = &c.items[done % c.n];
        unsigned k = 1 + (unsigned)below(4);

        memcpy(m.p, s->p, s->n);
        m.n = s->n;
        for (unsigned j = 0; j < k; j++)
            mutate(&m, &c);
        run_one(m.p, m.n);
        done++;
    }
    printf("%s: %zu seeds, %lu mutations in %.1f s, no failures\n", harness_name, c.n, done,
           now() - start);
    for (size_t i = 0; i < c.n; i++)
        free(c.items[i].p);
    free(c.items);
    free(m.p);
    return 0;
}
