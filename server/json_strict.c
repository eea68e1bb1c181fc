/* json_strict.c - exact seeds and duplicate keys (see json_strict.h).
 *
 * Seeds: cJSON stores every number as a double, so a seed past 2^53 printed
 * as a number would come out rounded (13653324973697583104 as
 * 1.3653324973697583e+19) and could not be sent back. Up to 2^53 a number is
 * exact and is what clients expect; above, the decimal string is the one
 * form every JSON reader keeps intact. Readers accept both.
 *
 * Duplicate keys: each object's keys are sorted (pointers only, the tree is
 * not touched) and neighbours compared, so a body of thousands of keys costs
 * no more than sorting them; small objects are compared pairwise.
 */
#include <stdlib.h>
#include <string.h>
#include "json_strict.h"
#include "query.h"

int srv_json_seed(cJSON *obj, const char *key, uint64_t seed) {
    const int as_number = seed <= SRV_JSON_EXACT_MAX;
    char buf[24];
    int n = 0;
    char rev[24];
    do {
        rev[n++] = (char)('0' + seed % 10);
        seed /= 10;
    } while (seed);
    for (int i = 0; i < n; i++) buf[i] = rev[n - 1 - i];
    buf[n] = '\0';
    /* A number is written as its exact digits (raw): cJSON prints doubles
     * with 15 significant digits when they compare equal within an epsilon,
     * which turns 6159790977594311 into 6.15979097759431e+15. */
    if (as_number) return cJSON_AddRawToObject(obj, key, buf) ? 0 : -1;
    return cJSON_AddStringToObject(obj, key, buf) ? 0 : -1;
}

int srv_json_seed_get(const cJSON *v, uint64_t *out) {
    if (cJSON_IsNumber(v)) {
        const double d = v->valuedouble;
        if (!(d >= 0.0) || d > (double)SRV_JSON_EXACT_MAX || d != (double)(uint64_t)d) return -1;
        *out = (uint64_t)d;
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring) {
        const char *s = v->valuestring;
        return srv_parse_u64(s, strlen(s), out) == 0 ? 0 : -1;
    }
    return -1;
}

static int cmp_key(const void *a, const void *b) {
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int cmp_name(const void *key, const void *elem) {
    return strcmp(key, (*(const cJSON *const *)elem)->string);
}

/* Pairwise, in document order: the first key used again later. */
static const char *duplicate_slow(const cJSON *obj) {
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = a->next; b && a->string; b = b->next)
            if (b->string && strcmp(a->string, b->string) == 0) return a->string;
    return NULL;
}

#define SMALL 16

/* The first key (in document order) that this object names twice, or NULL. */
static const char *object_duplicate(const cJSON *obj) {
    size_t n = 0;
    for (const cJSON *it = obj->child; it; it = it->next)
        if (it->string) n++;
    if (n < 2) return NULL;
    const cJSON **v = n > SMALL ? malloc(n * sizeof *v) : NULL;
    if (!v) return duplicate_slow(obj);       /* small, or no memory */
    size_t k = 0;
    for (const cJSON *it = obj->child; it; it = it->next)
        if (it->string) v[k++] = it;
    qsort(v, n, sizeof *v, cmp_key);
    const char *dup = NULL;
    for (const cJSON *it = obj->child; it && !dup; it = it->next) {
        if (!it->string) continue;
        const cJSON **hit = bsearch(it->string, v, n, sizeof *v, cmp_name);
        if ((hit > v && strcmp(hit[-1]->string, it->string) == 0) ||
            (hit + 1 < v + n && strcmp(hit[1]->string, it->string) == 0))
            dup = it->string;
    }
    free(v);
    return dup;
}

const char *srv_json_duplicate_key(const cJSON *item) {
    if (!item) return NULL;
    if (cJSON_IsObject(item)) {
        const char *d = object_duplicate(item);
        if (d) return d;
    }
    if (cJSON_IsObject(item) || cJSON_IsArray(item))
        for (const cJSON *it = item->child; it; it = it->next) {
            const char *d = srv_json_duplicate_key(it);
            if (d) return d;
        }
    return NULL;
}
