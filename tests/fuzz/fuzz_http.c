/* The in-house HTTP/1.1 client's response parser (client/agent/http.c): an agent's reply is
 * untrusted input (architecture.md §9). Input: byte 0 sets the size of the pieces the reply
 * arrives in (1..256, as recv() might cut it), byte 1 the body cap (64 B .. 16 KiB), the rest
 * is the reply. Every reply must end in a status — never a hang — and an accepted one must
 * respect the caps: body ≤ the cap, header block ≤ 64 KiB, a status code 200..599. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dstack_client *clients[4];
    char path[DSTACK_METHOD_MAX + 16];
    dstack_transfer t;
    dstack_http_conn conn = {-1, 0};
    dstack_raw_response r;
    dstack_error e;
    dstack_http_xfer *x;
    unsigned long conns = 0;
    size_t piece, off = 2;
    bool done = false;
    int which;

    if (size < 2 || size > 256 * 1024)
        return 0;
    piece = (size_t)data[0] + 1;
    which = data[1] & 3;
    if (clients[which] == NULL) {
        /* Created once per cap and kept: the client is not what is under test. */
        dstack_client_options o = {DSTACK_OPTIONS_INIT(dstack_client_options),
                                   .endpoint = "/nonexistent/fuzz.sock",
                                   .max_response_size = (size_t)64 << (which * 2)};
        if (dstack_client_new(&o, &clients[which], &e) != DSTACK_OK)
            abort();
    }
    const dstack_client *c = clients[which];
    if (dstack_transfer_begin(c, &t, "GetKey", path, sizeof(path), &e) != DSTACK_OK ||
        (x = OPENSSL_malloc(sizeof(*x))) == NULL)
        abort();
    if (!dstack_http_start(x, c, &t, &conn, path, "{}", 2, 5000, 5000, &conns))
        abort();
    dstack_http_fuzz_sent(x);
    while (!done && off < size) {
        size_t n = size - off < piece ? size - off : piece;
        done = dstack_http_fuzz_feed(x, data + off, n);
        off += n;
    }
    if (!done)
        dstack_http_fuzz_eof(x);
    if (dstack_http_events(x) != 0) /* must have finished */
        abort();
    memset(&r, 0, sizeof(r));
    dstack_status rc = dstack_http_outcome_status(c, x, 5000, &r, &e);
    if (rc == DSTACK_OK) {
        if (r.body_len > t.limit || r.headers_len > DSTACK_MAX_HEADER_BYTES ||
            r.http_status < 200 || r.http_status > 599 || r.body[r.body_len] != '\0' ||
            strncmp(r.headers, "HTTP/1.", 7) != 0)
            abort();
    } else if (e.status != rc ||
               strncmp(e.message, "GetKey on /nonexistent/fuzz.sock: ", 34) != 0) {
        abort();
    }
    dstack_raw_response_clear(&r);
    dstack_http_end(x);
    OPENSSL_free(x);
    dstack_transfer_cleanup(&t);
    return 0;
}
