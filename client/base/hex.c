/* Lowercase hex encoding and the agent's lenient hex decoding (protocol.md §1.4: repeated "0x"
 * prefixes stripped, either case accepted, even length required). */
#include <dstack/keys.h>

int dstack_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void dstack_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

bool dstack_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (in == NULL && in_len != 0)
        return false;
    while (in_len >= 2 && in[0] == '0' && (in[1] == 'x' || in[1] == 'X')) {
        in += 2;
        in_len -= 2;
    }
    if (in_len % 2 != 0 || in_len / 2 > cap)
        return false;
    for (size_t i = 0; i < in_len / 2; i++) {
        int hi = dstack_hex_digit(in[2 * i]);
        int lo = dstack_hex_digit(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    if (out_len != NULL)
        *out_len = in_len / 2;
    return true;
}
