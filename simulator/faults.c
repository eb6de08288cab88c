/* dstack-sim — fault-injection specs (architecture.md §8, the simulator fault contract).
 *
 * `--fault <Method|*>=<kind>[:<arg>]`, repeatable. For one request every matching fault is
 * collected: delays add up and run first, then the first terminal action (status, garbage,
 * truncate, close, oversize) in command-line order is applied.
 */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    sim_fault_kind kind;
    bool needs_arg;
} fault_kinds[] = {
    {"delay", SIM_FAULT_DELAY, true},      {"status", SIM_FAULT_STATUS, true},
    {"garbage", SIM_FAULT_GARBAGE, false}, {"truncate", SIM_FAULT_TRUNCATE, false},
    {"close", SIM_FAULT_CLOSE, false},     {"oversize", SIM_FAULT_OVERSIZE, false},
};

static bool parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
    char *end = NULL;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno == 0 && *end == '\0' && *out <= max;
}

bool sim_faults_add(sim_faults *faults, const char *spec, char *msg, size_t msg_len)
{
    const char *eq = strchr(spec, '=');
    const char *kind, *colon;
    size_t method_len, kind_len, i;
    sim_fault f;
    sim_fault *grown;

    memset(&f, 0, sizeof(f));
    if (eq == NULL || eq == spec) {
        snprintf(msg, msg_len, "--fault '%s': expected <Method|*>=<kind>[:<arg>]", spec);
        return false;
    }
    method_len = (size_t)(eq - spec);
    if (method_len >= sizeof(f.method)) {
        snprintf(msg, msg_len, "--fault '%s': method name too long", spec);
        return false;
    }
    memcpy(f.method, spec, method_len);
    kind = eq + 1;
    colon = strchr(kind, ':');
    kind_len = colon ? (size_t)(colon - kind) : strlen(kind);
    for (i = 0; i < sizeof(fault_kinds) / sizeof(fault_kinds[0]); i++) {
        if (strlen(fault_kinds[i].name) == kind_len &&
            strncmp(fault_kinds[i].name, kind, kind_len) == 0)
            break;
    }
    if (i == sizeof(fault_kinds) / sizeof(fault_kinds[0])) {
        snprintf(msg, msg_len,
                 "--fault '%s': unknown kind (delay:<ms>, status:<code>, garbage, truncate, "
                 "close, oversize)",
                 spec);
        return false;
    }
    f.kind = fault_kinds[i].kind;
    if (fault_kinds[i].needs_arg != (colon != NULL)) {
        snprintf(msg, msg_len, "--fault '%s': kind '%s' %s an argument", spec, fault_kinds[i].name,
                 fault_kinds[i].needs_arg ? "needs" : "takes no");
        return false;
    }
    if (f.kind == SIM_FAULT_DELAY && !parse_ulong(colon + 1, 3600000ul, &f.arg)) {
        snprintf(msg, msg_len, "--fault '%s': delay must be 0..3600000 ms", spec);
        return false;
    }
    if (f.kind == SIM_FAULT_STATUS && (!parse_ulong(colon + 1, 599ul, &f.arg) || f.arg < 100)) {
        snprintf(msg, msg_len, "--fault '%s': status must be an HTTP code 100..599", spec);
        return false;
    }
    grown = realloc(faults->items, (faults->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        snprintf(msg, msg_len, "out of memory");
        return false;
    }
    faults->items = grown;
    faults->items[faults->count++] = f;
    return true;
}

void sim_faults_plan(const sim_faults *faults, const char *method, sim_fault_plan *plan)
{
    size_t i;

    memset(plan, 0, sizeof(*plan));
    for (i = 0; i < faults->count; i++) {
        const sim_fault *f = &faults->items[i];

        if (strcmp(f->method, "*") != 0 && strcmp(f->method, method) != 0)
            continue;
        if (f->kind == SIM_FAULT_DELAY) {
            plan->delay_ms += f->arg;
        } else if (!plan->has_action) {
            plan->has_action = true;
            plan->action = f->kind;
            plan->status = f->arg;
        }
    }
}

void sim_faults_free(sim_faults *faults)
{
    free(faults->items);
    faults->items = NULL;
    faults->count = 0;
}
