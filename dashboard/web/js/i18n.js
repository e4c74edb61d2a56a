// Every label of the dashboard in Vietnamese (default) and English.
// Classic script: see format.js for why.
(function (kdc) {
  'use strict';

  const STRINGS = {
    vi: {
      'app.title': 'Khu dân cư điện tử',
      'app.subtitle': 'Theo dõi trực tiếp',
      'app.ward': 'Phường {ward}',
      'lang.toggle': 'English',
      'lang.toggle_title': 'Chuyển sang tiếng Anh',

      'conn.connecting': 'Đang kết nối máy chủ…',
      'conn.online': 'Đã kết nối máy chủ',
      'conn.offline': 'Mất kết nối máy chủ, đang thử lại',
      'conn.unreachable': 'Không kết nối được máy chủ',
      'conn.stopped': 'Đã kết nối máy chủ, không có số liệu mới',
      'agg.online': 'Bộ tổng hợp: đang chạy',
      'agg.offline': 'Bộ tổng hợp: đã dừng',
      'agg.degraded': 'Bộ tổng hợp: gặp sự cố',
      'agg.unknown': 'Bộ tổng hợp: chưa rõ',
      'age.label': 'Cập nhật {ago}',
      'age.none': 'Chưa có số liệu',
      'age.stopped': 'Số liệu đã dừng, cập nhật cuối {ago}',

      'warn.broker': 'Mất kết nối tới máy chủ MQTT, đang tự động kết nối lại. Số liệu hiển thị có thể đã cũ.',
      'warn.agg_offline': 'Bộ tổng hợp số liệu đã dừng từ {since}: các con số dưới đây không còn được cập nhật.',
      'warn.agg_offline_alive': 'Bộ tổng hợp số liệu đã dừng (lần cuối còn hoạt động lúc {since}): các con số dưới đây không còn được cập nhật.',
      'warn.agg_offline_unknown': 'Bộ tổng hợp số liệu đã dừng: các con số dưới đây không còn được cập nhật.',
      'warn.unreachable': 'Không kết nối được tới máy chủ MQTT tại {url}. Hãy đặt đúng địa chỉ trong config.js (broker, hoặc brokerPort) hoặc thêm ?broker=ws://MÁY:CỔNG/mqtt vào địa chỉ trang.',
      'warn.agg_degraded': 'Bộ tổng hợp số liệu đang gặp sự cố: {reason}.',
      'warn.stale': 'Số liệu đã cũ: lần cập nhật cuối {ago} (quá {limit} phút).',
      'warn.no_data': 'Chưa nhận được số liệu của phường {ward}.',
      'empty.waiting': 'Đang chờ số liệu từ bộ tổng hợp của phường…',
      'err.no_ward': 'Chưa chọn phường: thêm ?ward=MÃ_PHƯỜNG vào địa chỉ trang.',
      'err.bad_ward': 'Mã phường “{ward}” không hợp lệ (chỉ gồm chữ, số, - và _).',
      'err.bad_broker': 'Địa chỉ máy chủ “{broker}” không hợp lệ: cần ws://… hoặc wss://…',
      'err.no_mqtt': 'Thiếu tệp vendor/mqtt.min.js: trang không thể kết nối.',
      'err.denied': 'máy chủ không cho phép đọc số liệu của phường này',

      'sec.targets': 'Chỉ tiêu',
      'ind.households_visited': 'Hộ gia đình đã được tổ công nghệ số đến thăm',
      'ind.households_reached': 'Hộ gia đình được tiếp cận nền tảng số',
      'ind.people_with_payment_account': 'Người từ 15 tuổi có tài khoản thanh toán',
      'ind.people_paying_regularly': 'Người từ 15 tuổi có tài khoản thanh toán và giao dịch thường xuyên',
      'target.line': 'Chỉ tiêu {percent} trước {deadline}',
      'target.count': '{value} / {denominator}',
      'target.projected': 'Dự kiến đạt: {date}',
      'target.projected_never': 'Không đạt được với tốc độ 30 ngày qua',
      'target.gained': '30 ngày qua: {n}',
      'target.reached': 'Đã đạt chỉ tiêu',
      'target.on_track': 'Đúng tiến độ',
      'target.off_track': 'Chậm tiến độ',
      'target.days_left': 'còn {n} ngày',
      'target.days_over': 'quá hạn {n} ngày',
      'target.none': 'Hồ sơ phường chưa khai báo chỉ tiêu.',
      'target.marker': 'Vạch chỉ tiêu',

      'sec.overview': 'Tổng quan',
      'ov.hh_visited': 'Hộ đã được thăm',
      'ov.hh_reached': 'Hộ được tiếp cận',
      'ov.p_account': 'Người 15+ có tài khoản thanh toán',
      'ov.p_regular': 'Người 15+ thanh toán thường xuyên ({n} ngày)',
      'ov.payments': 'Thanh toán không tiền mặt (30 ngày)',
      'ov.payments_count': '{n} giao dịch',
      'ov.of_total': 'trên tổng {total}',
      'ov.latest_event': 'Sự kiện gần nhất',
      'ov.stored': 'Sự kiện đã lưu',
      'ov.rejected': 'Bị từ chối',

      'sec.activity': 'Hoạt động',
      'kind.visit': 'Thăm hộ',
      'kind.account': 'Mở tài khoản',
      'kind.payment': 'Thanh toán',
      'kind.service': 'Dịch vụ công',
      'win.24h': '24 giờ',
      'win.7d': '7 ngày',
      'win.30d': '30 ngày',
      'win.total': 'Tổng',
      'col.kind': 'Loại',

      'sec.accounts': 'Số người theo loại tài khoản',
      'acc.public_service_portal': 'Cổng Dịch vụ công quốc gia',
      'acc.vneid_level2': 'VNeID mức 2',
      'acc.provincial_app': 'Ứng dụng của tỉnh',
      'acc.payment': 'Tài khoản thanh toán',
      'sec.services': 'Dịch vụ đã dùng (30 ngày)',
      'svc.birth_registration': 'Đăng ký khai sinh',
      'svc.marital_status': 'Xác nhận tình trạng hôn nhân',
      'svc.medical_booking': 'Đặt lịch khám bệnh',
      'svc.field_report': 'Phản ánh hiện trường',
      'svc.other': 'Khác',

      'sec.khoms': 'Theo khóm',
      'col.khom': 'Khóm',
      'col.households': 'Số hộ',
      'col.visited': 'Đã thăm',
      'col.reached': 'Được tiếp cận',
      'col.paying': 'Người 15+ thanh toán thường xuyên',
      'col.paying_short': 'Thanh toán đều (15+)',
      'col.last': 'Hoạt động gần nhất',
      'khom.none': 'Chưa có số liệu theo khóm.',
      'khom.unassigned': 'ngoài hồ sơ phường',
      'sort.hint': 'Bấm tiêu đề cột để sắp xếp.',

      'sec.charts': 'Theo ngày, 60 ngày qua',
      'chart.visit': 'Lượt thăm hộ',
      'chart.account': 'Tài khoản mở mới',
      'chart.payment': 'Lượt thanh toán',
      'chart.total': 'Tổng {n}',
      'chart.none': 'Chưa có chuỗi số liệu.',

      'sec.teams': 'Tổ công nghệ số cộng đồng, 7 ngày qua',
      'team.events': '{n} sự kiện',
      'team.devices': '{n} thiết bị',
      'team.last': 'gần nhất {t}',
      'team.none': 'Chưa có số liệu theo tổ.',

      'foot.as_of': 'Số liệu tính đến {t}, ảnh chụp số {seq}.',
      'foot.source': 'Máy chủ {broker}, phường {ward}.',
      'foot.help': 'Số liệu do bộ tổng hợp của phường công bố; trang tự cập nhật, không cần tải lại.',
    },

    en: {
      'app.title': 'Digital residential area',
      'app.subtitle': 'Live dashboard',
      'app.ward': 'Ward {ward}',
      'lang.toggle': 'Tiếng Việt',
      'lang.toggle_title': 'Switch to Vietnamese',

      'conn.connecting': 'Connecting to the broker…',
      'conn.online': 'Broker connected',
      'conn.offline': 'Broker disconnected, retrying',
      'conn.unreachable': 'Cannot reach the broker',
      'conn.stopped': 'Broker connected, no new data',
      'agg.online': 'Aggregator: online',
      'agg.offline': 'Aggregator: offline',
      'agg.degraded': 'Aggregator: degraded',
      'agg.unknown': 'Aggregator: unknown',
      'age.label': 'Updated {ago}',
      'age.none': 'No data yet',
      'age.stopped': 'Data stopped, last updated {ago}',

      'warn.broker': 'Lost the connection to the MQTT broker; reconnecting automatically. The figures shown may be out of date.',
      'warn.agg_offline': 'The ward aggregator has been offline since {since}: the figures below are no longer updated.',
      'warn.agg_offline_alive': 'The ward aggregator has stopped (last seen alive at {since}): the figures below are no longer updated.',
      'warn.agg_offline_unknown': 'The ward aggregator has stopped: the figures below are no longer updated.',
      'warn.unreachable': 'Could not connect to the MQTT broker at {url}. Set its address in config.js (broker, or brokerPort) or add ?broker=ws://HOST:PORT/mqtt to the page address.',
      'warn.agg_degraded': 'The ward aggregator is degraded: {reason}.',
      'warn.stale': 'Stale data: last updated {ago} (more than {limit} minutes).',
      'warn.no_data': 'No statistics received yet for ward {ward}.',
      'empty.waiting': 'Waiting for statistics from the ward aggregator…',
      'err.no_ward': 'No ward chosen: add ?ward=WARD_CODE to the page address.',
      'err.bad_ward': 'Ward code “{ward}” is not valid (letters, digits, - and _ only).',
      'err.bad_broker': 'Broker address “{broker}” is not valid: it must be ws://… or wss://…',
      'err.no_mqtt': 'vendor/mqtt.min.js is missing: the page cannot connect.',
      'err.denied': 'the broker does not allow reading this ward’s statistics',

      'sec.targets': 'Targets',
      'ind.households_visited': 'Households visited by a digital technology team',
      'ind.households_reached': 'Households reached by a digital platform',
      'ind.people_with_payment_account': 'People aged 15+ with a payment account',
      'ind.people_paying_regularly': 'People aged 15+ with a payment account who pay regularly',
      'target.line': 'Target {percent} by {deadline}',
      'target.count': '{value} / {denominator}',
      'target.projected': 'Projected: {date}',
      'target.projected_never': 'Not reached at the pace of the last 30 days',
      'target.gained': 'last 30 days: {n}',
      'target.reached': 'Target reached',
      'target.on_track': 'On track',
      'target.off_track': 'Behind',
      'target.days_left': '{n} days left',
      'target.days_over': '{n} days overdue',
      'target.none': 'The ward profile declares no targets.',
      'target.marker': 'Target mark',

      'sec.overview': 'Overview',
      'ov.hh_visited': 'Households visited',
      'ov.hh_reached': 'Households reached',
      'ov.p_account': 'People 15+ with a payment account',
      'ov.p_regular': 'People 15+ paying regularly ({n} days)',
      'ov.payments': 'Cashless payments (30 days)',
      'ov.payments_count': '{n} payments',
      'ov.of_total': 'of {total}',
      'ov.latest_event': 'Latest event',
      'ov.stored': 'Events stored',
      'ov.rejected': 'Rejected',

      'sec.activity': 'Activity',
      'kind.visit': 'Visits',
      'kind.account': 'Accounts opened',
      'kind.payment': 'Payments',
      'kind.service': 'Public services',
      'win.24h': '24 hours',
      'win.7d': '7 days',
      'win.30d': '30 days',
      'win.total': 'Total',
      'col.kind': 'Kind',

      'sec.accounts': 'People per account kind',
      'acc.public_service_portal': 'National Public Service Portal',
      'acc.vneid_level2': 'VNeID level 2',
      'acc.provincial_app': 'Provincial app',
      'acc.payment': 'Payment account',
      'sec.services': 'Services used (30 days)',
      'svc.birth_registration': 'Birth registration',
      'svc.marital_status': 'Marital status certificate',
      'svc.medical_booking': 'Medical appointment',
      'svc.field_report': 'Field report',
      'svc.other': 'Other',

      'sec.khoms': 'By khóm (neighbourhood)',
      'col.khom': 'Khóm',
      'col.households': 'Households',
      'col.visited': 'Visited',
      'col.reached': 'Reached',
      'col.paying': 'People 15+ paying regularly',
      'col.paying_short': 'Paying regularly (15+)',
      'col.last': 'Last activity',
      'khom.none': 'No khóm statistics yet.',
      'khom.unassigned': 'not in the ward profile',
      'sort.hint': 'Click a column heading to sort.',

      'sec.charts': 'Daily, last 60 days',
      'chart.visit': 'Household visits',
      'chart.account': 'Accounts opened',
      'chart.payment': 'Payments',
      'chart.total': 'Total {n}',
      'chart.none': 'No daily series yet.',

      'sec.teams': 'Community digital technology teams, last 7 days',
      'team.events': '{n} events',
      'team.devices': '{n} devices',
      'team.last': 'latest {t}',
      'team.none': 'No team statistics yet.',

      'foot.as_of': 'Figures as of {t}, snapshot {seq}.',
      'foot.source': 'Broker {broker}, ward {ward}.',
      'foot.help': 'Published by the ward aggregator; the page updates itself, no reload needed.',
    },
  };

  const LANGS = ['vi', 'en'];

  // Looks key up in lang (falling back to Vietnamese, then to the key itself)
  // and replaces each {name} with params[name].
  function t(lang, key, params) {
    const table = STRINGS[lang] || STRINGS.vi;
    let s = table[key];
    if (s === undefined) s = STRINGS.vi[key];
    if (s === undefined) return key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, (m, name) =>
        (Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m));
    }
    return s;
  }

  function has(lang, key) {
    return Object.prototype.hasOwnProperty.call(STRINGS[lang] || {}, key);
  }

  kdc.i18n = { t: t, has: has, LANGS: LANGS, STRINGS: STRINGS };
})(globalThis.kdc = globalThis.kdc || {});
