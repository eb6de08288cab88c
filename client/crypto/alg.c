/* The algorithm table (include/dstack/keys.h): one row per key algorithm, read by the URI
 * parser, key building, the resolver, certificate building and the tools. */
#include <dstack/keys.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const char *const no_aliases[] = {NULL};
static const char *const secp256k1_aliases[] = {"k256", NULL};

static const dstack_alg_info algs[] = {
    /* The default: byte-identical to the legacy Tappd.DeriveKey(path) key — the agent's 32
     * bytes for `path` (the same bytes GetKey(secp256k1) returns) as a P-256 scalar. */
    {.id = DSTACK_ALG_P256,
     .name = "p256",
     .display = "P-256",
     .aliases = no_aliases,
     .agent_algorithm = "secp256k1",
     .openssl_type = "EC",
     .group = "prime256v1",
     .signature_digest = "SHA256",
     .agent_certificates = true,
     .agent_ephemeral = true,
     .legacy_tappd_key = true,
     .secret_len = 32},
    {.id = DSTACK_ALG_SECP256K1,
     .name = "secp256k1",
     .display = "secp256k1",
     .aliases = secp256k1_aliases,
     .agent_algorithm = "secp256k1",
     .openssl_type = "EC",
     .group = "secp256k1",
     .signature_digest = "SHA256",
     .secret_len = 32},
    /* The same 32 bytes as an RFC 8032 seed (GetKey(ed25519), protocol.md §2.1). */
    {.id = DSTACK_ALG_ED25519,
     .name = "ed25519",
     .display = "Ed25519",
     .aliases = no_aliases,
     .agent_algorithm = "ed25519",
     .openssl_type = "ED25519",
     .secret_len = 32},
};
#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

size_t dstack_alg_count(void)
{
    return N_ALGS;
}

const dstack_alg_info *dstack_alg_at(size_t index)
{
    return index < N_ALGS ? &algs[index] : NULL;
}

const dstack_alg_info *dstack_alg_get(dstack_key_alg alg)
{
    for (size_t i = 0; i < N_ALGS; i++)
        if (algs[i].id == alg)
            return &algs[i];
    return NULL;
}

const dstack_alg_info *dstack_alg_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < N_ALGS; i++) {
        if (strcmp(algs[i].name, name) == 0)
            return &algs[i];
        for (const char *const *a = algs[i].aliases; *a != NULL; a++)
            if (strcmp(*a, name) == 0)
                return &algs[i];
    }
    return NULL;
}

const char *dstack_key_alg_name(dstack_key_alg alg)
{
    const dstack_alg_info *a = dstack_alg_get(alg);
    return a != NULL ? a->name : "unknown";
}

static char choices[128];
static pthread_once_t choices_once = PTHREAD_ONCE_INIT;

static void choices_fill(void)
{
    const char *words[16];
    size_t n = 0, o = 0;

    for (size_t i = 0; i < N_ALGS; i++) {
        words[n++] = algs[i].name;
        for (const char *const *a = algs[i].aliases; *a != NULL && n < 16; a++)
            words[n++] = *a;
    }
    for (size_t i = 0; i < n && o < sizeof(choices); i++)
        o += (size_t)snprintf(choices + o, sizeof(choices) - o, "%s%s",
                              i == 0       ? ""
                              : i + 1 == n ? " or "
                                           : ", ",
                              words[i]);
}

const char *dstack_alg_choices(void)
{
    pthread_once(&choices_once, choices_fill);
    return choices;
}
