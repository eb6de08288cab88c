/* dstack-sim — emulated agent releases (--agent-version, protocol.md §0 version map, §8).
 *
 * Two tables describe an agent release: which RPCs exist (the `since`/`until` columns of the
 * method tables in dispatch.c) and how the ones that exist behave (the profiles below). Each
 * profile stands for the newest release of its line that the spec describes, so the
 * fallbacks of libdstack and the provider for old agents (architecture.md §4, protocol.md §3.3)
 * and the 0.6 changes (protocol.md §2.6) can be exercised end to end. The last profile is the
 * default: the newest release, behaving as a real agent does.
 */
#include "sim.h"

#include <string.h>

/* One field per line, in sim_profile order, so the releases compare line by line. */
/* clang-format off */
static const sim_profile profiles[] = {
    {
        /* 0.3.x "tappd": only tappd.sock, prpc 0.5 (full method names, 404 for unknown
         * methods), DeriveKey from the app CA key (protocol.md §3.2 last row), WorkerInfo with
         * string ids, leaves without KeyUsage valid 365 days (protocol.md §4.6). */
        .version = SIM_AGENT_0_3,
        .name = "0.3",
        .release = "0.3.6",
        .guest_socket = false,
        .prpc_full_names = true,
        .getkey_algorithm = false,
        .derive_from_ca_key = true,
        .info = SIM_INFO_WORKER_V03,
        .quote_vm_config = false,
        .cert_ext = SIM_CERT_EXT_NONE,
        .cert_ip_san = false,
        .cert_options = false,
        .cert_v03_leaf = true,
        .quote_log_stripped = false,
        .app_cert_is_ca = true,
        .acpi_labels = false,
        .event_log_v2 = false,
        .tls_validity_check = false,
        .tdx_prefix_echo = false,
        .gpu_policy_event = false,
        .app_info_fields = 8,
    },
    {
        /* 0.4.x: DstackGuest on dstack.sock without EmitEvent/Attest/Sign/Verify/Version,
         * GetKey ignores `algorithm` (protocol.md §3.3), WorkerInfo, GetQuote without vm_config,
         * RA-TLS leaves with .1.1 quote + .1.2 event log (protocol.md §4.3). */
        .version = SIM_AGENT_0_4,
        .name = "0.4",
        .release = "0.4.2",
        .guest_socket = true,
        .prpc_full_names = false,
        .getkey_algorithm = false,
        .derive_from_ca_key = false,
        .info = SIM_INFO_WORKER,
        .quote_vm_config = false,
        .cert_ext = SIM_CERT_EXT_QUOTE,
        .cert_ip_san = false,
        .cert_options = false,
        .cert_v03_leaf = false,
        .quote_log_stripped = false,
        .app_cert_is_ca = false,
        .acpi_labels = false,
        .event_log_v2 = false,
        .tls_validity_check = false,
        .tdx_prefix_echo = false,
        .gpu_policy_event = false,
        .app_info_fields = 8,
    },
    {
        /* 0.5.5: 0.4 + EmitEvent (0.5.0), AppInfo (0.5.1, no cloud_* yet), GetQuote
         * vm_config (0.5.4); still no Attest/Sign/Verify/Version, `algorithm` ignored. */
        .version = SIM_AGENT_0_5_5,
        .name = "0.5.5",
        .release = "0.5.5",
        .guest_socket = true,
        .prpc_full_names = false,
        .getkey_algorithm = false,
        .derive_from_ca_key = false,
        .info = SIM_INFO_APP_V055,
        .quote_vm_config = true,
        .cert_ext = SIM_CERT_EXT_QUOTE,
        .cert_ip_san = false,
        .cert_options = false,
        .cert_v03_leaf = false,
        .quote_log_stripped = false,
        .app_cert_is_ca = false,
        .acpi_labels = false,
        .event_log_v2 = false,
        .tls_validity_check = false,
        .tdx_prefix_echo = false,
        .gpu_policy_event = false,
        .app_info_fields = 8,
    },
    {
        /* 0.5.11: the baseline of the spec. */
        .version = SIM_AGENT_0_5_11,
        .name = "0.5.11",
        .release = "0.5.11",
        .guest_socket = true,
        .prpc_full_names = false,
        .getkey_algorithm = true,
        .derive_from_ca_key = false,
        .info = SIM_INFO_APP,
        .quote_vm_config = true,
        .cert_ext = SIM_CERT_EXT_ATTESTATION,
        .cert_ip_san = true,
        .cert_options = true,
        .cert_v03_leaf = false,
        .quote_log_stripped = true,
        .app_cert_is_ca = false,
        .acpi_labels = false,
        .event_log_v2 = false,
        .tls_validity_check = false,
        .tdx_prefix_echo = false,
        .gpu_policy_event = false,
        .app_info_fields = 8,
    },
    {
        /* 0.6 (upstream HEAD, 0.6.0): no EmitEvent, GpuInfo (dispatch.c), GetTlsKey validity
         * order checked, TdxQuote echoes the prefix, ACPI DATA events named and kept in
         * stripped logs and certificates, event log v2 when the app-compose asks, .1.9 with
         * init_script_hashes, the gpu-policy-hash boot event (protocol.md §2.6). */
        .version = SIM_AGENT_0_6,
        .name = "0.6",
        .release = "0.6.0",
        .guest_socket = true,
        .prpc_full_names = false,
        .getkey_algorithm = true,
        .derive_from_ca_key = false,
        .info = SIM_INFO_APP,
        .quote_vm_config = true,
        .cert_ext = SIM_CERT_EXT_ATTESTATION,
        .cert_ip_san = true,
        .cert_options = true,
        .cert_v03_leaf = false,
        .quote_log_stripped = true,
        .app_cert_is_ca = false,
        .acpi_labels = true,
        .event_log_v2 = true,
        .tls_validity_check = true,
        .tdx_prefix_echo = true,
        .gpu_policy_event = true,
        .app_info_fields = 9,
    },
};
/* clang-format on */

const sim_profile *sim_profile_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    }
    return NULL;
}

const sim_profile *sim_profile_default(void)
{
    return &profiles[sizeof(profiles) / sizeof(profiles[0]) - 1];
}
