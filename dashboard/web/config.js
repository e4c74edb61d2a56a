// Site settings of the kdc dashboard. Each can be overridden by a URL
// parameter of the same name (?ward=, ?broker=, ?user=, ?pass=, ?lang=).
// Edit this file where the dashboard is installed; it is a plain script so
// that mosquitto's http_dir can serve it (see README.md).
window.KDC_CONFIG = {
  // Ward code shown when the address has no ?ward= (empty: the page asks for one).
  ward: '',
  // Full broker URL (ws://HOST:PORT/mqtt or wss://...). Empty: the page's own
  // host, with brokerPort below, over wss when the page came over https. A
  // page that cannot connect says which address it tried.
  broker: '',
  // Port of mosquitto's websockets listener. null: the page's own port, which
  // is right when mosquitto serves these files itself (http_dir).
  brokerPort: null,
  brokerPath: '/mqtt',
  // The dashboard account (read-only ACL on stats and status). It is visible
  // to anyone who can load this page: never reuse a device or admin password.
  username: '',
  password: '',
  // Data older than this is flagged as stale.
  staleAfterSeconds: 120,
  // Time zone of times of day until a snapshot arrives; then the ward's own
  // UTC offset (utc_offset_min of its snapshots) is used. Dates of the series
  // and deadlines are calendar dates and never shift.
  timeZone: 'Asia/Ho_Chi_Minh',
  // Seconds between reconnection attempts when the broker is unreachable.
  reconnectSeconds: 2,
};
