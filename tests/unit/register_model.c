/* register_model.c: the register and voids replayed from the contract; see
 * register_model.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdc_util.h"
#include "register_model.h"

struct mreg *m_reg(struct model *m, const char *khom, const char *hh)
{
	for (size_t i = 0; i < m->nreg; i++)
		if (strcmp(m->reg[i].khom, khom) == 0 && strcmp(m->reg[i].hh, hh) == 0)
			return &m->reg[i];
	return NULL;
}

static struct mstored *m_stored(struct model *m, const uint8_t *id)
{
	for (size_t i = 0; i < m->nst; i++)
		if (memcmp(m->st[i].r.id, id, KDC_UUID_LEN) == 0)
			return &m->st[i];
	return NULL;
}

int m_counted(struct model *m, const struct mstored *e)
{
	const struct mreg *g = m_reg(m, e->r.khom, e->r.household);

	return e->type == IT_EVENT && !e->voided && (m->nreg == 0 || (g && g->active));
}

/* Voids waiting for e: the first valid one takes it out, the rest end. */
static void m_arrived(struct model *m, struct mstored *e)
{
	for (size_t i = 0; i < m->nwait; i++) {
		struct mvoid *v = &m->wait[i];
		if (!v->waiting || memcmp(v->target, e->r.id, KDC_UUID_LEN) != 0)
			continue;
		v->waiting = 0;
		if (e->type == IT_EVENT && strcmp(v->team, e->r.team) == 0 &&
		    strcmp(v->khom, e->r.khom) == 0 && strcmp(v->hh, e->r.household) == 0)
			e->voided = 1;
	}
}

static void m_debug(const struct item *it, const char *what)
{
	char id[KDC_UUID_STR_LEN];

	if (!getenv("KDC_TEST_VERBOSE"))
		return;
	kdc_uuid_format(it->r.id, id);
	printf("model: %s %d %s %s/%s %s\n", id, it->type, it->r.team, it->r.khom, it->r.household, what);
}

void m_apply(struct model *m, const struct item *it)
{
	struct mreg *g = m_reg(m, it->r.khom, it->r.household);
	struct mstored *t, *e;

	if (m_stored(m, it->r.id))
		return;                                   /* a resend */
	if (it->type == IT_EVENT && m->nreg > 0 && !(g && g->active)) {
		m->rejected++;                            /* unknown or retired household */
		m_debug(it, "refused: household");
		return;
	}
	if (it->type == IT_EVENT && m->nreg > 0 && g->business != kdc_kind_for_business(it->r.kind)) {
		m->rejected++;                            /* a household's event on a business, or the reverse */
		m_debug(it, "refused: entry type");
		return;
	}
	if (it->type == IT_ADD && g && !g->active) {
		m->rejected++;                            /* retired */
		m_debug(it, "refused: retired");
		return;
	}
	if (it->type == IT_ADD && g && g->business != (it->r.subkind == 1)) {
		m->rejected++;                            /* added again as the other type */
		m_debug(it, "refused: entry type");
		return;
	}
	if (it->type == IT_VOID && (t = m_stored(m, it->target)) != NULL) {
		if (t->type != IT_EVENT || strcmp(t->r.team, it->r.team) != 0 ||
		    strcmp(t->r.khom, it->r.khom) != 0 || strcmp(t->r.household, it->r.household) != 0) {
			m->rejected++;
			m_debug(it, "refused: void");
			return;
		}
		t->voided = 1;
	} else if (it->type == IT_VOID) {
		struct mvoid *v = &m->wait[m->nwait++];
		memcpy(v->target, it->target, KDC_UUID_LEN);
		snprintf(v->team, sizeof v->team, "%s", it->r.team);
		snprintf(v->khom, sizeof v->khom, "%s", it->r.khom);
		snprintf(v->hh, sizeof v->hh, "%s", it->r.household);
		v->waiting = 1;
	}
	if (it->type == IT_ADD && !g && m->nreg > 0) {
		g = &m->reg[m->nreg++];
		snprintf(g->khom, sizeof g->khom, "%s", it->r.khom);
		snprintf(g->hh, sizeof g->hh, "%s", it->r.household);
		g->active = 1;
		g->people = it->people ? (int)it->people : -1;
		g->business = it->r.subkind == 1;
	}
	e = &m->st[m->nst++];
	e->r = it->r;
	e->type = it->type;
	e->voided = 0;
	m_arrived(m, e);
}
