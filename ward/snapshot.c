/* snapshot.c: see snapshot.h. */
#include <string.h>

#include "jsonout.h"
#include "kdc_err.h"
#include "snapshot.h"

const char *const kdc_snap_fields[KDC_SF_COUNT] = {
	"households.total", "households.visited", "households.surveyed", "households.reached",
	"people_15plus.total", "people_15plus.with_payment_account", "people_15plus.paying_regularly",
	"accounts.public_service_portal", "accounts.vneid_level2", "accounts.provincial_app",
	"accounts.payment",
	"events.visit.24h", "events.visit.7d", "events.visit.30d", "events.visit.total",
	"events.account.24h", "events.account.7d", "events.account.30d", "events.account.total",
	"events.payment.24h", "events.payment.7d", "events.payment.30d", "events.payment.total",
	"events.service.24h", "events.service.7d", "events.service.30d", "events.service.total",
	"services.birth_registration", "services.marital_status", "services.medical_booking",
	"services.field_report", "services.other",
	"payments.count_30d", "payments.amount_vnd_30d", "payments.count_total",
	"payments.amount_vnd_total",
	"stored_total", "rejected_total", "events.voided",
	"events.business_visit.24h", "events.business_visit.7d", "events.business_visit.30d",
	"events.business_visit.total",
	"events.einvoice.24h", "events.einvoice.7d", "events.einvoice.30d", "events.einvoice.total",
	"events.business_account.24h", "events.business_account.7d", "events.business_account.30d",
	"events.business_account.total",
	"businesses.total", "businesses.using_einvoice",
	"service_users.total", "service_users.e_identified",
};
_Static_assert(KDC_SF_ADDED == 39, "the first snapshots' fields stay where they are");
_Static_assert(KDC_SF_COUNT == 55, "kdc_snap_fields follows enum kdc_snap_field");

const struct kdc_snap_indicator kdc_snap_indicators[KDC_IND_COUNT] = {
	[KDC_IND_HOUSEHOLDS_VISITED] = { KDC_SF_HH_VISITED, KDC_SF_HH_TOTAL },
	[KDC_IND_HOUSEHOLDS_REACHED] = { KDC_SF_HH_REACHED, KDC_SF_HH_TOTAL },
	[KDC_IND_PEOPLE_WITH_PAYMENT_ACCOUNT] = { KDC_SF_P_ACCOUNT, KDC_SF_P_TOTAL },
	[KDC_IND_PEOPLE_PAYING_REGULARLY] = { KDC_SF_P_REGULAR, KDC_SF_P_TOTAL },
	[KDC_IND_SERVICE_USERS_E_IDENTIFIED] = { KDC_SF_SU_EID, KDC_SF_SU_TOTAL },
	[KDC_IND_BUSINESSES_USING_EINVOICE] = { KDC_SF_BIZ_EINVOICE, KDC_SF_BIZ_TOTAL },
};

int kdc_snap_put(cJSON *root, int f, int64_t v)
{
	const char *path = kdc_snap_fields[f];
	char part[64];
	cJSON *o = root;

	for (;;) {
		size_t n = strcspn(path, ".");
		cJSON *next;

		if (n >= sizeof part)
			return KDC_ERR_INVAL;
		memcpy(part, path, n);
		part[n] = '\0';
		if (path[n] == '\0')
			return kdc_json_int(o, part, v) ? KDC_OK : KDC_ERR_NOMEM;
		next = cJSON_GetObjectItemCaseSensitive(o, part);
		if (!next && !(next = cJSON_AddObjectToObject(o, part)))
			return KDC_ERR_NOMEM;
		o = next;
		path += n + 1;
	}
}
