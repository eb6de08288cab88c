/* libdstack internal — parsing PEM and DER that someone else sent (the agent's keys and
 * certificates, quotes' PCK chains, PCCS collateral). Not installed.
 *
 * Such data is parsed in a private OpenSSL library context that holds only OpenSSL's default
 * provider, never in the application's context: there the application's own providers —
 * the dstack provider among them — would take part in decoding, so an agent answering with
 * a "DSTACK KEY URI" reference PEM would re-enter the provider from inside a resolution. And
 * every PEM read refuses passphrases: an encrypted key or certificate from the agent is an
 * error, never a prompt on the terminal.
 */
#ifndef DSTACK_UNTRUSTED_H
#define DSTACK_UNTRUSTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <dstack/error.h>

/* The private context, shared by all holders (created by the first acquire, freed by the
 * last release); NULL if OpenSSL cannot make one. */
OSSL_LIB_CTX *dstack_untrusted_acquire(void);
void dstack_untrusted_release(OSSL_LIB_CTX *ctx);

/* pem_password_cb that refuses (OpenSSL then fails the read instead of prompting). */
int dstack_refuse_passphrase(char *buf, int size, int rwflag, void *userdata);

/* True when `pem` is exactly one PEM block, optionally surrounded by whitespace: OpenSSL's
 * readers take the first block and ignore whatever follows, and a reply that carries more
 * than it should is refused. */
bool dstack_pem_single_block(const char *pem);
/* True when the PEM block is encrypted (PKCS#8 EncryptedPrivateKeyInfo or a legacy
 * "Proc-Type: 4,ENCRYPTED" header). */
bool dstack_pem_encrypted(const char *pem);

/* One PEM private key / certificate in `ctx` (an acquired private context); NULL when `pem`
 * is not exactly one unencrypted block of that kind. `why` (optional) gets a short reason. */
EVP_PKEY *dstack_untrusted_private_key(OSSL_LIB_CTX *ctx, const char *pem, char *why,
                                       size_t why_len);
X509 *dstack_untrusted_x509_pem(OSSL_LIB_CTX *ctx, const char *pem, char *why, size_t why_len);
X509 *dstack_untrusted_x509_der(OSSL_LIB_CTX *ctx, const uint8_t *der, size_t len);

#endif
