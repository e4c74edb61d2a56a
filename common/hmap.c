/* hmap.c: see kdc_hmap.h. */
#include <stdlib.h>
#include <string.h>

#include "kdc_err.h"
#include "kdc_hmap.h"

void kdc_hmap_init(struct kdc_hmap *m, size_t ksize, size_t vsize)
{
	memset(m, 0, sizeof *m);
	m->ksize = ksize;
	m->voff = (ksize + 7) & ~(size_t)7;
	m->esize = (m->voff + vsize + 7) & ~(size_t)7;
}

/* Keys are zero-padded structs whose sizes are multiples of 8: hash them a
 * word at a time (a multiply-xorshift mix per word). */
static uint64_t hmap__hash(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
	}
	for (; n > 0; n--, p++)
		h = (h ^ *p) * 0x100000001B3ULL;
	return h ^ (h >> 29);
}

static int hmap__grow(struct kdc_hmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 256;
	uint32_t *nidx = calloc(ncap, sizeof *nidx);

	if (!nidx)
		return KDC_ERR_NOMEM;
	for (size_t i = 0; i < m->len; i++) {
		size_t j = hmap__hash(m->ents + i * m->esize, m->ksize) & (ncap - 1);
		while (nidx[j])
			j = (j + 1) & (ncap - 1);
		nidx[j] = (uint32_t)(i + 1);
	}
	free(m->idx);
	m->idx = nidx;
	m->cap = ncap;
	return KDC_OK;
}

/* The slot of key in m->idx: its entry's (*slot holds it), or the empty
 * slot where it would go. m->cap must be non-zero. */
static inline unsigned char *hmap__probe(const struct kdc_hmap *m, const void *key, size_t *slot)
{
	size_t j = hmap__hash(key, m->ksize) & (m->cap - 1);

	for (; m->idx[j]; j = (j + 1) & (m->cap - 1)) {
		unsigned char *e = m->ents + (m->idx[j] - 1) * m->esize;
		if (memcmp(e, key, m->ksize) == 0) {
			*slot = j;
			return e;
		}
	}
	*slot = j;
	return NULL;
}

/* Value of key, created zeroed when absent (*created = 1). NULL when out of
 * memory. The pointer is valid until the next hmap_get. */
void *kdc_hmap_get(struct kdc_hmap *m, const void *key, int *created)
{
	unsigned char *e;
	size_t j;

	*created = 0;
	if ((m->len + 1) * 2 > m->cap && hmap__grow(m) != KDC_OK)
		return NULL;
	if ((e = hmap__probe(m, key, &j)) != NULL)
		return e + m->voff;
	if (m->len == m->ents_cap) {
		size_t ncap = m->ents_cap ? m->ents_cap * 2 : 128;
		unsigned char *ne = realloc(m->ents, ncap * m->esize);
		if (!ne)
			return NULL;
		m->ents = ne;
		m->ents_cap = ncap;
	}
	e = m->ents + m->len * m->esize;
	memset(e, 0, m->esize);
	memcpy(e, key, m->ksize);
	m->idx[j] = (uint32_t)(++m->len);
	*created = 1;
	return e + m->voff;
}

void *kdc_hmap_find(const struct kdc_hmap *m, const void *key)
{
	unsigned char *e;
	size_t j;

	if (!m->cap)
		return NULL;
	e = hmap__probe(m, key, &j);
	return e ? e + m->voff : NULL;
}

void kdc_hmap_clear(struct kdc_hmap *m)
{
	if (m->len && m->idx)
		memset(m->idx, 0, m->cap * sizeof *m->idx);
	m->len = 0;
	/* a huge batch should not pin its memory forever */
	if (m->cap > 65536) {
		free(m->idx);
		free(m->ents);
		m->idx = NULL;
		m->ents = NULL;
		m->cap = m->ents_cap = 0;
	}
}

void kdc_hmap_free(struct kdc_hmap *m)
{
	free(m->idx);
	free(m->ents);
	m->idx = NULL;
	m->ents = NULL;
}
