/* dstack provider — unknown keys in its openssl.cnf section.
 *
 * OpenSSL passes a provider only the names it asks for, so a misspelt name (kms_root_pubkey,
 * kms-root-pub-key) would be ignored and the check it was meant to switch on stay off. To
 * find such names the provider reads the section itself: the configuration file OpenSSL
 * reads by default (OPENSSL_CONF, else the built-in path), the section the `providers` list of
 * the `openssl_conf` section names for this provider. When that is not the file the
 * application loaded — the values found there differ from those the core handed over, or
 * the section is missing — the check is skipped and the debug log says so: a wrong guess must
 * never refuse a correct configuration.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/conf.h>
#include <openssl/err.h>

/* value of `name` in `section`, NULL if absent */
static const char *conf_value(const CONF *conf, const char *section, const char *name)
{
    const char *v;

    ERR_set_mark(); /* NCONF_get_string raises when the name is missing */
    v = NCONF_get_string(conf, section, name);
    ERR_pop_to_mark();
    return v;
}

/* The section of provider `prov_name`, NULL (with a note) if the file does not activate it. */
static const char *provider_section(const CONF *conf, const char *prov_name, char *note,
                                    size_t note_len)
{
    const char *init = conf_value(conf, NULL, "openssl_conf");
    const char *providers = init != NULL ? conf_value(conf, init, "providers") : NULL;
    const char *section = providers != NULL ? conf_value(conf, providers, prov_name) : NULL;

    if (section == NULL)
        snprintf(note, note_len, "the configuration file has no section for provider %s",
                 prov_name);
    return section;
}

/* The text the core handed over for table parameter `name`, NULL if none. */
static const char *seen_value(const char *const *seen, const char *name)
{
    for (size_t i = 0; i < dstack_config_param_count(); i++)
        if (strcmp(dstack_config_param_at(i)->name, name) == 0)
            return seen[i];
    return NULL;
}

int dstack_prov_config_file_check(const char *prov_name, const char *const *seen, char *why,
                                  size_t why_len, char *note, size_t note_len)
{
    char *path = CONF_get1_default_config_file();
    CONF *conf = NULL;
    STACK_OF(CONF_VALUE) * values;
    const char *section;
    char unknown[128] = "";
    const char *closest = NULL;
    int ok = 1;

    if (path == NULL) {
        snprintf(note, note_len, "no default configuration file");
        goto done;
    }
    conf = NCONF_new(NULL);
    ERR_set_mark();
    if (conf == NULL || NCONF_load(conf, path, NULL) <= 0) {
        ERR_pop_to_mark();
        snprintf(note, note_len, "cannot read %s", path);
        goto done;
    }
    ERR_pop_to_mark();
    if ((section = provider_section(conf, prov_name, note, note_len)) == NULL)
        goto done;
    values = NCONF_get_section(conf, section);
    for (int i = 0; values != NULL && i < sk_CONF_VALUE_num(values); i++) {
        const CONF_VALUE *cv = sk_CONF_VALUE_value(values, i);
        const dstack_config_param *p;

        if (cv->name == NULL || dstack_prov_config_is_openssl_key(cv->name))
            continue;
        if ((p = dstack_config_param_find(cv->name)) != NULL) {
            const char *passed = seen_value(seen, p->name);
            /* a known name with another value: this is not the file OpenSSL read */
            if (passed == NULL || cv->value == NULL || strcmp(passed, cv->value) != 0) {
                snprintf(note, note_len, "%s [%s] does not hold the values OpenSSL passed", path,
                         section);
                unknown[0] = '\0';
                goto done;
            }
            continue;
        }
        if (unknown[0] == '\0') {
            snprintf(unknown, sizeof(unknown), "%s", cv->name);
            p = dstack_config_param_closest(cv->name);
            closest = p != NULL ? p->name : NULL;
        }
    }
    if (unknown[0] != '\0') {
        ok = 0;
        if (closest != NULL)
            snprintf(why, why_len, "openssl.cnf [%s] has unknown parameter %s (did you mean %s?)",
                     section, unknown, closest);
        else
            snprintf(why, why_len, "openssl.cnf [%s] has unknown parameter %s", section, unknown);
    }
done:
    NCONF_free(conf);
    OPENSSL_free(path);
    return ok;
}
