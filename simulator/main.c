/* dstack-sim — command line, configuration and lifecycle (architecture.md §8).
 *
 *   dstack-sim --dir D [--appkeys F] [--app-id HEX] [--compose F] [--quote F]
 *              [--http HOST:PORT] [--pccs HOST:PORT] [--tcb-status STATUS]
 *              [--socket-mode MODE] [--stripped-event-log | --full-event-log]
 *              [--fault SPEC]...
 *              [--agent-version 0.3|0.4|0.5.5|0.5.11|0.6]
 *   dstack-sim --write-appkeys FILE
 *
 * Startup contract: once every listener accepts connections the endpoint lines are printed
 * to stdout and flushed. SIGINT/SIGTERM stop the listeners, remove the sockets, free
 * everything and exit 0.
 */
#include "sim.h"

#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <dstack/keys.h>

#define SIM_COMPOSE_MAX (4 * 1024 * 1024)

/* Used when no --compose is given; documented in docs/dstack-sim.md. */
static const char builtin_compose[] =
    "{\"manifest_version\":2,\"name\":\"dstack-sim-app\",\"runner\":\"docker-compose\","
    "\"docker_compose_file\":\"services:\\n  app:\\n    image: busybox\\n\","
    "\"kms_enabled\":true,\"gateway_enabled\":false,\"public_logs\":false,"
    "\"public_sysinfo\":false,\"public_tcbinfo\":false,\"key_provider\":\"kms\","
    "\"key_provider_id\":\"\",\"allowed_envs\":[],\"no_instance_id\":false,"
    "\"secure_time\":false,\"storage_fs\":\"ext4\"}";
#define SIM_OS_IMAGE_LABEL "dstack-sim os image v1"

typedef struct sim_options {
    const char *dir;
    const char *appkeys;
    const char *compose;
    const char *quote;
    const char *http;
    const char *pccs;
    const char *write_appkeys;
    bool has_app_id;
    uint8_t app_id[20];
    int event_log_form; /* 0 = the release's default, 1 = stripped, 2 = full */
} sim_options;

static void usage(FILE *out)
{
    fprintf(out, "Usage: dstack-sim --dir DIR [options]\n"
                 "Simulates the dstack guest agent (wire protocol v" SIM_AGENT_VERSION ") on\n"
                 "DIR/dstack.sock, DIR/tappd.sock, DIR/external.sock (+ DIR/sim-control.sock).\n\n"
                 "  --dir DIR             directory for the sockets (required)\n"
                 "  --appkeys FILE        official appkeys.json (default: built-in INSECURE\n"
                 "                        development identity)\n"
                 "  --app-id HEX          20-byte app id reported by Info (with --appkeys)\n"
                 "  --compose FILE        app-compose.json (default: a built-in one)\n"
                 "  --quote FILE          patch report_data into this real TDX quote instead of\n"
                 "                        synthesising quotes\n"
                 "  --http HOST:PORT      also serve DstackGuest over TCP (port 0 = any)\n"
                 "  --pccs HOST:PORT      serve the simulated Intel's collateral on the PCCS v4\n"
                 "                        API (root CA: DIR/sim-intel-root.pem)\n"
                 "  --tcb-status STATUS   TCB status of the simulated platform in that\n"
                 "                        collateral (default UpToDate; Intel's names)\n"
                 "  --socket-mode MODE    chmod the sockets to this octal mode (default: as\n"
                 "                        created under the umask; 0666 lets any user connect)\n"
                 "  --stripped-event-log  strip GetQuote/TdxQuote event logs (the default of\n"
                 "                        agents 0.5.6 and later)\n"
                 "  --full-event-log      full GetQuote/TdxQuote event logs, as the official\n"
                 "                        simulator returns them\n"
                 "  --fault M=KIND[:ARG]  inject a fault for method M (or *): delay:<ms>,\n"
                 "                        status:<code>, garbage, truncate, close, oversize\n"
                 "  --agent-version V     emulate an agent release: 0.3 (tappd only), 0.4, 0.5.5,\n"
                 "                        0.5.11, 0.6 (default)\n"
                 "  --write-appkeys FILE  write the built-in identity as an appkeys.json (mode\n"
                 "                        0600) and exit; load it with --appkeys and --app-id\n"
                 "  --help, --version\n");
}

static char *read_text(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = malloc(max + 1);
    n = buf ? fread(buf, 1, max + 1, f) : 0;
    if (buf != NULL && (ferror(f) || n > max)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static bool compose_flag(json_object *obj, const char *name)
{
    json_object *v = NULL;

    return json_object_object_get_ex(obj, name, &v) && json_object_get_boolean(v);
}

static const char *json_text(json_object *obj, const char *name, const char *dflt)
{
    json_object *v = NULL;

    if (json_object_object_get_ex(obj, name, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return dflt;
}

/* 0.6: "event_log_version" selects the runtime events' digest formula for the whole boot:
 * absent or 1 = v1, 2 = v2, anything else fails the boot as it does the agent's app-compose
 * parsing (protocol.md §5.3.1). Older releases do not know the key. */
static bool event_log_version(sim_ctx *ctx, json_object *root, const char *path, char *msg,
                              size_t msg_len)
{
    json_object *v = NULL;
    int64_t n;

    ctx->event_log_version = DSTACK_EVENT_LOG_V1;
    if (!ctx->profile->event_log_v2 || !json_object_object_get_ex(root, "event_log_version", &v))
        return true;
    if (!json_object_is_type(v, json_type_int)) {
        snprintf(msg, msg_len, "%s: event_log_version: invalid type, expected 1 or 2",
                 path ? path : "built-in compose");
        return false;
    }
    n = json_object_get_int64(v);
    if (n != DSTACK_EVENT_LOG_V1 && n != DSTACK_EVENT_LOG_V2) {
        snprintf(msg, msg_len, "%s: unknown event log version: %lld",
                 path ? path : "built-in compose", (long long)n);
        return false;
    }
    ctx->event_log_version = (unsigned)n;
    return true;
}

/* compose_hash = SHA-256 of the raw bytes (protocol.md §5.5); a few fields steer behaviour. */
static bool load_compose(sim_ctx *ctx, const char *path, char *msg, size_t msg_len)
{
    json_object *root;
    bool ok;

    if (path != NULL) {
        ctx->compose = read_text(path, SIM_COMPOSE_MAX, &ctx->compose_len);
        if (ctx->compose == NULL) {
            snprintf(msg, msg_len, "cannot read --compose %s (missing or over 4 MiB)", path);
            return false;
        }
    } else {
        ctx->compose = strdup(builtin_compose);
        ctx->compose_len = ctx->compose ? strlen(ctx->compose) : 0;
        if (ctx->compose == NULL)
            return false;
    }
    root = json_tokener_parse(ctx->compose);
    if (root == NULL || !json_object_is_type(root, json_type_object) ||
        strlen(ctx->compose) != ctx->compose_len) {
        json_object_put(root);
        snprintf(msg, msg_len, "%s: app-compose must be a JSON object",
                 path ? path : "built-in compose");
        return false;
    }
    SHA256((const uint8_t *)ctx->compose, ctx->compose_len, ctx->compose_hash);
    ctx->app_name = strdup(json_text(root, "name", ""));
    ctx->storage_fs = strdup(json_text(root, "storage_fs", "ext4"));
    ctx->public_tcbinfo = compose_flag(root, "public_tcbinfo");
    ctx->public_logs = compose_flag(root, "public_logs");
    ctx->public_sysinfo = compose_flag(root, "public_sysinfo");
    ctx->no_instance_id = compose_flag(root, "no_instance_id");
    ok = event_log_version(ctx, root, path, msg, msg_len);
    json_object_put(root);
    return ok && ctx->app_name != NULL && ctx->storage_fs != NULL;
}

/* vm_config and key_provider_info (protocol.md §2.4). */
static bool build_config(sim_ctx *ctx)
{
    unsigned char *spki = NULL;
    int spki_len;
    char *hex = NULL;
    bool ok = false;

    SHA256((const uint8_t *)SIM_OS_IMAGE_LABEL, strlen(SIM_OS_IMAGE_LABEL), ctx->os_image_hash);
    hex = sim_hex(ctx->os_image_hash, 32);
    if (hex == NULL ||
        asprintf(&ctx->vm_config,
                 "{\"os_image_hash\":\"%s\",\"cpu_count\":2,\"memory_size\":2147483648}",
                 hex) < 0) {
        ctx->vm_config = NULL;
        goto done;
    }
    free(hex);
    hex = NULL;
    /* key provider id = SPKI DER of the CA key, as the official simulator reports. */
    spki_len = i2d_PUBKEY(ctx->id.ca_key, &spki);
    if (spki_len <= 0 || (hex = sim_hex(spki, (size_t)spki_len)) == NULL)
        goto done;
    if (asprintf(&ctx->key_provider_info, "{\"name\":\"kms\",\"id\":\"%s\"}", hex) < 0) {
        ctx->key_provider_info = NULL;
        goto done;
    }
    ok = true;
done:
    free(hex);
    OPENSSL_free(spki);
    return ok;
}

static int parse_args(int argc, char **argv, sim_options *o, sim_ctx *ctx)
{
    enum {
        OPT_APP_ID = 256,
        OPT_STRIPPED,
        OPT_FULL,
        OPT_AGENT_VERSION,
        OPT_WRITE_APPKEYS,
        OPT_SOCKET_MODE,
        OPT_PCCS,
        OPT_TCB_STATUS
    };
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"appkeys", required_argument, NULL, 'k'},
        {"app-id", required_argument, NULL, OPT_APP_ID},
        {"compose", required_argument, NULL, 'c'},
        {"quote", required_argument, NULL, 'q'},
        {"http", required_argument, NULL, 'H'},
        {"pccs", required_argument, NULL, OPT_PCCS},
        {"tcb-status", required_argument, NULL, OPT_TCB_STATUS},
        {"fault", required_argument, NULL, 'f'},
        {"stripped-event-log", no_argument, NULL, OPT_STRIPPED},
        {"full-event-log", no_argument, NULL, OPT_FULL},
        {"agent-version", required_argument, NULL, OPT_AGENT_VERSION},
        {"write-appkeys", required_argument, NULL, OPT_WRITE_APPKEYS},
        {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char msg[256];
    size_t n = 0;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->dir = optarg;
            break;
        case 'k':
            o->appkeys = optarg;
            break;
        case OPT_APP_ID:
            if (!dstack_hex_decode(optarg, strlen(optarg), o->app_id, 20, &n) || n != 20) {
                fprintf(stderr, "dstack-sim: --app-id must be 20 bytes of hex\n");
                return 2;
            }
            o->has_app_id = true;
            break;
        case 'c':
            o->compose = optarg;
            break;
        case 'q':
            o->quote = optarg;
            break;
        case 'H':
            o->http = optarg;
            break;
        case OPT_PCCS:
            o->pccs = optarg;
            break;
        case OPT_TCB_STATUS:
            ctx->intel.tcb_status = NULL;
            for (int s = DSTACK_TCB_UP_TO_DATE; s <= DSTACK_TCB_REVOKED; s++) {
                if (strcmp(optarg, dstack_tcb_status_name((dstack_tcb_status)s)) == 0)
                    ctx->intel.tcb_status = dstack_tcb_status_name((dstack_tcb_status)s);
            }
            if (ctx->intel.tcb_status == NULL) {
                fprintf(stderr,
                        "dstack-sim: --tcb-status '%s': expected one of Intel's TCB "
                        "statuses (UpToDate, SWHardeningNeeded, ConfigurationNeeded, "
                        "ConfigurationAndSWHardeningNeeded, OutOfDate, "
                        "OutOfDateConfigurationNeeded, Revoked)\n",
                        optarg);
                return 2;
            }
            break;
        case 'f':
            if (!sim_faults_add(&ctx->faults, optarg, msg, sizeof(msg))) {
                fprintf(stderr, "dstack-sim: %s\n", msg);
                return 2;
            }
            break;
        case OPT_STRIPPED:
        case OPT_FULL:
            if (o->event_log_form != 0 && o->event_log_form != (c == OPT_STRIPPED ? 1 : 2)) {
                fprintf(stderr, "dstack-sim: --stripped-event-log and --full-event-log exclude "
                                "each other\n");
                return 2;
            }
            o->event_log_form = c == OPT_STRIPPED ? 1 : 2;
            break;
        case OPT_AGENT_VERSION:
            ctx->profile = sim_profile_find(optarg);
            if (ctx->profile == NULL) {
                fprintf(stderr,
                        "dstack-sim: --agent-version '%s': expected 0.3, 0.4, 0.5.5, 0.5.11 "
                        "or 0.6\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_WRITE_APPKEYS:
            o->write_appkeys = optarg;
            break;
        case OPT_SOCKET_MODE: {
            char *end = NULL;
            long mode = strtol(optarg, &end, 8);
            if (end == optarg || *end != '\0' || mode < 0 || mode > 0777) {
                fprintf(stderr,
                        "dstack-sim: --socket-mode '%s': expected an octal mode such as "
                        "0660 or 0666\n",
                        optarg);
                return 2;
            }
            ctx->socket_mode = (int)mode;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("dstack-sim %s (dstack agent protocol %s)\n", SIM_PROJECT_VERSION,
                   SIM_AGENT_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o->write_appkeys != NULL) {
        if (optind == argc && o->dir == NULL && o->appkeys == NULL)
            return -1;
        fprintf(stderr, "dstack-sim: --write-appkeys writes the built-in identity and exits; "
                        "it takes no --dir, --appkeys or arguments\n");
        return 2;
    }
    if (optind < argc || o->dir == NULL) {
        fprintf(stderr, "dstack-sim: %s\n",
                optind < argc ? "unexpected argument" : "--dir is required");
        usage(stderr);
        return 2;
    }
    if (o->http != NULL && !ctx->profile->guest_socket) {
        fprintf(stderr, "dstack-sim: --http serves DstackGuest, which a %s agent does not have\n",
                ctx->profile->name);
        return 2;
    }
    /* Real agents strip quote logs since 0.5.6 (protocol.md §5.2); the flags override. */
    ctx->strip_event_log =
        o->event_log_form == 0 ? ctx->profile->quote_log_stripped : o->event_log_form == 1;
    if (o->has_app_id && o->appkeys == NULL) {
        fprintf(stderr, "dstack-sim: --app-id needs --appkeys (the built-in identity has a "
                        "fixed app id)\n");
        return 2;
    }
    return -1;
}

static void ctx_free(sim_ctx *ctx)
{
    sim_attest_free(&ctx->att);
    sim_intel_free(&ctx->intel);
    sim_identity_free(&ctx->id);
    sim_faults_free(&ctx->faults);
    free(ctx->compose);
    free(ctx->app_name);
    free(ctx->storage_fs);
    free(ctx->vm_config);
    free(ctx->key_provider_info);
    free(ctx->app_cert);
    pthread_mutex_destroy(&ctx->app_cert_lock);
}

/* One descriptor per connection, five listeners: the soft limit (often 1024) would refuse
 * clients long before the connection limit does. */
static void raise_fd_limit(void)
{
    struct rlimit lim;

    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max < 8192 ? lim.rlim_max : 8192;
        (void)setrlimit(RLIMIT_NOFILE, &lim);
    }
}

int main(int argc, char **argv)
{
    static sim_ctx ctx;
    sim_options opts;
    sim_server *srv = NULL;
    char *root_path = NULL;
    sigset_t set;
    char msg[512];
    int rc, sig = 0;
    bool attest_ready = false;

    memset(&opts, 0, sizeof(opts));
    msg[0] = '\0';
    ctx.profile = sim_profile_default();
    pthread_mutex_init(&ctx.app_cert_lock, NULL);
    ctx.socket_mode = -1;
    raise_fd_limit();
    rc = parse_args(argc, argv, &opts, &ctx);
    if (rc >= 0) {
        sim_faults_free(&ctx.faults);
        pthread_mutex_destroy(&ctx.app_cert_lock);
        return rc;
    }
    rc = 1;
    if (opts.write_appkeys != NULL) {
        if (sim_identity_builtin(&ctx.id, msg, sizeof(msg)) &&
            sim_identity_write_appkeys(&ctx.id, opts.write_appkeys, msg, sizeof(msg)))
            rc = 0;
        else
            fprintf(stderr, "dstack-sim: %s\n", msg);
        sim_identity_free(&ctx.id);
        sim_faults_free(&ctx.faults);
        pthread_mutex_destroy(&ctx.app_cert_lock);
        return rc;
    }
    /* Block the stop signals before any thread exists; main waits for them below. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (opts.appkeys != NULL
            ? !sim_identity_load(&ctx.id, opts.appkeys, opts.has_app_id ? opts.app_id : NULL, msg,
                                 sizeof(msg))
            : !sim_identity_builtin(&ctx.id, msg, sizeof(msg)))
        goto fail;
    if (!load_compose(&ctx, opts.compose, msg, sizeof(msg)))
        goto fail;
    if (!build_config(&ctx)) {
        snprintf(msg, sizeof(msg), "cannot build the VM configuration");
        goto fail;
    }
    attest_ready = true;
    if (!sim_attest_init(&ctx, opts.quote, msg, sizeof(msg)))
        goto fail;
    srv = sim_server_start(&ctx, opts.dir, opts.http, opts.pccs, msg, sizeof(msg));
    if (srv == NULL)
        goto fail;
    if (!sim_intel_write_root(&ctx, opts.dir, &root_path, msg, sizeof(msg))) {
        sim_server_stop(srv);
        goto fail;
    }
    if (ctx.id.builtin)
        fprintf(stderr, "dstack-sim: using the built-in INSECURE development identity "
                        "(never use it for anything real)\n");
    if (ctx.profile != sim_profile_default())
        fprintf(stderr, "dstack-sim: emulating a v%s agent (--agent-version %s)\n",
                ctx.profile->release, ctx.profile->name);
    sim_server_announce(srv);
    while (sigwait(&set, &sig) != 0)
        ;
    sim_server_stop(srv);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "dstack-sim: %s\n", msg[0] ? msg : "initialisation failed");
done:
    if (root_path != NULL)
        unlink(root_path);
    free(root_path);
    if (!attest_ready)
        pthread_mutex_init(&ctx.att.lock, NULL); /* so sim_attest_free is always valid */
    ctx_free(&ctx);
    return rc;
}
