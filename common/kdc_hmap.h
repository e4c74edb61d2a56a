/* kdc_hmap.h: a small open-addressing hash map for fixed-size keys (structs
 * zeroed before they are filled, so that padding compares equal) with dense
 * values: entries are kept in insertion order, so a map can also be walked
 * as an array (KDC_HMAP_KEY/KDC_HMAP_VAL of 0 .. len - 1). Used by the
 * statistics (per-batch sums, caches of rows) and by the writer (receipt
 * groups per device).
 *
 * Not thread-safe: a map belongs to one thread at a time. */
#ifndef KDC_HMAP_H
#define KDC_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct kdc_hmap {
	size_t ksize, esize;   /* key bytes; entry bytes (key + value, 8-aligned) */
	size_t voff;           /* where the value starts in an entry (8-aligned) */
	unsigned char *ents;   /* len entries, in insertion order */
	size_t len, ents_cap;
	uint32_t *idx;         /* 0 = empty, else entry index + 1 */
	size_t cap;            /* power of two */
};

/* An empty map of keys of ksize bytes and values of vsize bytes. */
void kdc_hmap_init(struct kdc_hmap *m, size_t ksize, size_t vsize);
/* Value of key, created zeroed when absent (*created = 1). NULL when out of
 * memory. The pointer is valid until the next kdc_hmap_get. */
void *kdc_hmap_get(struct kdc_hmap *m, const void *key, int *created);
/* Value of key, or NULL when absent. */
void *kdc_hmap_find(const struct kdc_hmap *m, const void *key);
/* Empties the map (keeps its memory unless it grew large). */
void kdc_hmap_clear(struct kdc_hmap *m);
void kdc_hmap_free(struct kdc_hmap *m);

#define KDC_HMAP_KEY(m, i) ((void *)((m)->ents + (i) * (m)->esize))
#define KDC_HMAP_VAL(m, i) ((void *)((m)->ents + (i) * (m)->esize + (m)->voff))

#endif
