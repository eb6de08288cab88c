/* agent_info — print who this confidential VM is, and the public half of a derived key.
 *
 *   cc agent_info.c $(pkg-config --cflags --libs dstack) -o agent_info
 *   ./agent_info [key-path]
 *
 * The agent is found like the official SDKs do: $DSTACK_SIMULATOR_ENDPOINT, else
 * /var/run/dstack.sock and friends. The private key never leaves libdstack's secure heap
 * except to compute its public key here.
 */
#include <stdio.h>

#include <dstack/client.h>
#include <dstack/keys.h>
#include <dstack/rpc.h>

static void print_hex(const char *label, const uint8_t *buf, size_t len)
{
    printf("%-16s", label);
    for (size_t i = 0; i < len; i++)
        printf("%02x", buf[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "example/key";
    dstack_client_options opts = {DSTACK_OPTIONS_INIT(dstack_client_options),
                                  .service = DSTACK_SERVICE_GUEST, .timeout_ms = 3000};
    dstack_client *client = NULL;
    dstack_app_info info = {0};
    dstack_key_response key = {0};
    dstack_error err;
    uint8_t pub[33];
    int ret = 1;

    if (dstack_client_new(&opts, &client, &err) != DSTACK_OK)
        goto fail;
    if (dstack_info(client, &info, &err) != DSTACK_OK)
        goto fail;
    printf("endpoint        %s\n", dstack_client_endpoint(client));
    printf("app_name        %s\n", info.app_name);
    print_hex("app_id", info.app_id.data, info.app_id.len);
    print_hex("instance_id", info.instance_id.data, info.instance_id.len);
    print_hex("compose_hash", info.compose_hash.data, info.compose_hash.len);
    printf("key_provider    %s\n", info.key_provider_name);

    /* Same path → same key on every restart and every replica of this app. */
    if (dstack_get_key(client, path, "example", "secp256k1", &key, &err) != DSTACK_OK)
        goto fail;
    if (dstack_secp256k1_pubkey(key.key.data, pub, &err) != DSTACK_OK)
        goto fail;
    printf("key path        %s\n", path);
    print_hex("secp256k1 pub", pub, sizeof(pub));
    printf("chain entries   %zu\n", key.signature_chain_len);
    ret = 0;
    goto done;

fail:
    fprintf(stderr, "agent_info: %s (%s)\n", err.message, dstack_status_name(err.status));
done:
    dstack_key_response_free(&key); /* cleanses the private key */
    dstack_app_info_free(&info);
    dstack_client_free(client);
    return ret;
}
