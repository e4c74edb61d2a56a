"""What the kdc-report checkers share: the figures a report shows for every
scope, with their headings in Vietnamese and English (docs/report.md), the
indicators' names, and how a checker reports its differences. Written from
the documentation, not read from the program: the checkers compare the
program with these."""
import sys

# (field of kdc.stats.v1, Vietnamese heading, English heading), in the order
# of the report's columns
FIGURES = [
    ('households.total', 'Số hộ', 'Households'),
    ('households.visited', 'Hộ đã thăm', 'Households visited'),
    ('households.surveyed', 'Hộ đã khảo sát', 'Households surveyed'),
    ('households.reached', 'Hộ có tài khoản', 'Households reached'),
    ('people_15plus.total', 'Người từ 15 tuổi', 'People 15+'),
    ('people_15plus.with_payment_account', 'Người có tài khoản thanh toán', 'People with a payment account'),
    ('people_15plus.paying_regularly', 'Người thanh toán thường xuyên', 'People paying regularly'),
    ('events.visit.total', 'Lượt thăm hộ', 'Visits'),
    ('events.account.total', 'Lượt mở tài khoản', 'Accounts opened'),
    ('events.payment.total', 'Lượt thanh toán', 'Payments'),
    ('events.service.total', 'Lượt dịch vụ công', 'Public services'),
    ('payments.amount_vnd_total', 'Tổng tiền thanh toán (VND)', 'Payments total (VND)'),
    ('service_users.total', 'Người dùng dịch vụ công trực tuyến', 'Online public service users'),
    ('service_users.e_identified', 'Người dùng được định danh điện tử', 'Service users e-identified'),
    ('businesses.total', 'Số doanh nghiệp', 'Businesses'),
    ('businesses.using_einvoice', 'Doanh nghiệp sử dụng hóa đơn điện tử', 'Businesses using electronic invoices'),
]

# indicator (kdc.stats.v1 targets[].indicator) -> (Vietnamese, English)
INDICATORS = {
    'households_visited': ('Hộ đã thăm', 'Households visited'),
    'households_reached': ('Hộ có tài khoản', 'Households reached'),
    'people_with_payment_account': ('Người có tài khoản thanh toán', 'People with a payment account'),
    'people_paying_regularly': ('Người thanh toán thường xuyên', 'People paying regularly'),
    'service_users_e_identified': ('Người dân, doanh nghiệp dùng dịch vụ công trực tuyến được định danh và xác thực điện tử',
                                   'People and businesses using online public services who are e-identified'),
    'businesses_using_einvoice': ('Doanh nghiệp sử dụng hóa đơn điện tử', 'Businesses using electronic invoices'),
}


def report_bad(bad, n, what=None):
    """Exit status of a check: 1 with the first differences on stderr, else
    0 with the number of values compared N on stdout."""
    if bad:
        head = f'{what}: ' if what else ''
        print(f'{head}{len(bad)} differences, first ones:', file=sys.stderr)
        for b in bad[:15]:
            print('  ' + b, file=sys.stderr)
        return 1
    print(n)
    return 0
