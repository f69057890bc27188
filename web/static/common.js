// Shared by the storefront and the admin dashboard: the API, the session,
// Korean/English text, money, dates and names in the chosen language.

export const state = {
  token: localStorage.getItem('shelflife.token') || '',
  lang: localStorage.getItem('shelflife.lang') || (navigator.language.startsWith('ko') ? 'ko' : 'en'),
};

const TEXT = {
  ko: {
    signin: '로그인', signup: '회원가입', signout: '로그아웃', email: '이메일', password: '비밀번호', name: '이름',
    address: '배송지', products: '상품', deals: '마감 임박 특가', cart: '장바구니', checkout: '카카오페이로 결제하기',
    add: '담기', soldout: '품절', soldOutNow: (n) => (n ? `방금 다른 분이 잡았습니다. ${n}개만 남았습니다.` : '방금 품절되었습니다.'), search: '검색', category: '분류', all: '전체',
    myorders: '주문 내역', order: '주문', status: '상태', total: '합계', empty: '비어 있습니다', cartEmpty: '장바구니가 비어 있습니다',
    setAddress: '이 주소로 보기', noWarehouse: '이 주소로 배송하는 창고가 없습니다', off: '할인',
    neighbourhood: '동네', placeName: '장소 이름', advanced: '고급: 좌표 직접 입력', lat: '위도', lng: '경도',
    servedBy: '배송 창고', chooseAddress: '배송지를 먼저 선택하세요', unknownPlace: '모르는 장소입니다. 목록에서 고르거나 좌표를 입력하세요',
    added: '장바구니에 담았습니다', removed: '뺐습니다', remove: '빼기', backToShop: '쇼핑 계속하기', signinToBuy: '로그인하면 담을 수 있습니다',
    signinToPay: '결제하려면 로그인하세요', addSomething: '상품을 담으면 결제할 수 있습니다', fromWarehouse: '출고', expiresAt: '유통기한',
    qty: '수량', deal: '특가', change: '변경', changeAddress: '배송지 바꾸기', orderPlacedAt: '주문 시각', nothingNear: '이 주소 근처에 상품이 없습니다',
    noMatch: '찾는 상품이 없습니다', more: '상품 더 보기', shownOf: (n, total) => `상품 ${num(total)}개 중 ${num(n)}개`,
    stock: '재고', warehouse: '창고', product: '상품', lot: '로트', onHand: '재고', state: '상태', dealUnits: '특가',
    expiring: '곧 마감되는 로트', waste: '폐기', receive: '입고', quantity: '수량', regular: '일반',
    orders: '주문', stuck: '멈춘 사가', stuckSagas: '멈춘 사가', chart: '분당 판매량', region: '지역', value: '금액', refresh: '새로고침',
    summary: '요약', live: '실시간', offline: '연결 끊김', connecting: '연결 중', lots48h: '48시간 안에 마감', lots6h: '6시간 안에 마감',
    wasteWeek: '이번 주 폐기', ordersByStatus: '상태별 주문', unitsOnHand: '보유 재고', inDeals: '특가 중',
    soldPerMinute: '분당 판매량 (최근 30분)', wastePerDay: '일별 폐기와 특가 매출 (최근 30일)', wasteValue: '폐기 금액', dealRevenue: '특가 매출', stockByCategory: '창고·분류별 재고',
    expiryTimeline: '유통기한 타임라인 (앞으로 72시간, 3시간 단위)', prev: '이전', next: '다음', page: '쪽',
    noData: '아직 데이터가 없습니다', lotsCount: '로트', units: '개', received: '입고했습니다', adminOnly: '관리자만 볼 수 있습니다',
    nextExpiry: '가장 빠른 유통기한', expiresIn: '남은 시간', now: '지금', minAgo: '분 전', hours: '시간',
    ko: '한국어', en: 'English', language: '언어', home: '홈', storefront: '쇼핑', adminTitle: '관리자',
    shopTitle: '신선 식품', cartCount: '장바구니 담긴 수', orderNo: '주문 번호', reasonLabel: '사유',
    atRisk: '폐기 위험 로트', expectedUnsold: '예상 잔량', valueAtRisk: '위험 금액', sellRate: '판매 속도', perHour: '개/시간',
    rateProduct: '상품 평균', rateNone: '최근 판매 없음', noneAtRisk: '폐기 위험 로트가 없습니다', timeLeft: '남은 시간',
    mark_down_now: '지금 할인', move_to_deals_early: '특가로 일찍 전환', none: '지켜보기', action: '제안',
    riskNote: (n, within, w, h) => `${within}시간 안에 마감되는 로트 ${n}개 검토 · 최근 ${w}시간 판매 기준 (반감기 ${h}시간)`, updatedAt: '갱신',
  },
  en: {
    signin: 'Sign in', signup: 'Sign up', signout: 'Sign out', email: 'Email', password: 'Password', name: 'Name',
    address: 'Delivery address', products: 'Products', deals: 'Closing soon', cart: 'Cart', checkout: 'Pay with Kakao Pay',
    add: 'Add', soldout: 'Sold out', soldOutNow: (n) => (n ? `Someone just took it: only ${n} left.` : 'Sold out just now.'), search: 'Search', category: 'Category', all: 'All',
    myorders: 'My orders', order: 'Order', status: 'Status', total: 'Total', empty: 'Nothing here yet', cartEmpty: 'Your cart is empty',
    setAddress: 'Show what is near', noWarehouse: 'No warehouse delivers to this address', off: 'off',
    neighbourhood: 'Neighbourhood', placeName: 'Place name', advanced: 'Advanced: enter coordinates', lat: 'Latitude', lng: 'Longitude',
    servedBy: 'Delivered from', chooseAddress: 'Choose a delivery address first', unknownPlace: 'Unknown place: pick one from the list or enter coordinates',
    added: 'Added to your cart', removed: 'Removed', remove: 'Remove', backToShop: 'Keep shopping', signinToBuy: 'Sign in to add to your cart',
    signinToPay: 'Sign in to pay', addSomething: 'Add something to your cart to pay', fromWarehouse: 'From', expiresAt: 'Expires',
    qty: 'Qty', deal: 'Deal', change: 'Change', changeAddress: 'Change address', orderPlacedAt: 'Placed', nothingNear: 'Nothing is sold near this address',
    noMatch: 'No product matches', more: 'Show more products', shownOf: (n, total) => `${num(n)} of ${num(total)} products`,
    stock: 'Stock', warehouse: 'Warehouse', product: 'Product', lot: 'Lot', onHand: 'On hand', state: 'State', dealUnits: 'Deals',
    expiring: 'Lots expiring soon', waste: 'Waste', receive: 'Receive a lot', quantity: 'Quantity', regular: 'Regular',
    orders: 'Orders', stuck: 'Stuck sagas', stuckSagas: 'Stuck sagas', chart: 'Units sold per minute', region: 'Region', value: 'Value', refresh: 'Refresh',
    summary: 'Summary', live: 'Live', offline: 'Offline', connecting: 'Connecting', lots48h: 'Expiring within 48 h', lots6h: 'Expiring within 6 h',
    wasteWeek: 'Waste this week', ordersByStatus: 'Orders by status', unitsOnHand: 'Units on hand', inDeals: 'in deals',
    soldPerMinute: 'Units sold per minute (last 30 min)', wastePerDay: 'Waste and markdown sales per day (last 30 days)', wasteValue: 'Written off', dealRevenue: 'Markdown sales', stockByCategory: 'Stock by warehouse and category',
    expiryTimeline: 'Expiry timeline (next 72 h, 3 h steps)', prev: 'Previous', next: 'Next', page: 'page',
    noData: 'No data yet', lotsCount: 'lots', units: 'units', received: 'Received', adminOnly: 'Admins only',
    nextExpiry: 'Next expiry', expiresIn: 'Time left', now: 'now', minAgo: 'min ago', hours: 'h',
    ko: '한국어', en: 'English', language: 'Language', home: 'Home', storefront: 'Shop', adminTitle: 'Admin',
    shopTitle: 'Fresh food', cartCount: 'Items in cart', orderNo: 'Order number', reasonLabel: 'Reason',
    atRisk: 'Lots at risk', expectedUnsold: 'Expected unsold', valueAtRisk: 'Value at risk', sellRate: 'Sell rate', perHour: '/h',
    rateProduct: 'product average', rateNone: 'no recent sales', noneAtRisk: 'No lot is at risk', timeLeft: 'Time left',
    mark_down_now: 'Mark down now', move_to_deals_early: 'Move to deals early', none: 'Watch', action: 'Suggestion',
    riskNote: (n, within, w, h) => `${n} lots expiring within ${within} h weighed · sell rates from the last ${w} h (half-life ${h} h)`, updatedAt: 'updated',
  },
};

// Order statuses, failure reasons, lot states and categories in words.
const STATUS = {
  ko: { CREATED: '접수', PAYMENT_READY: '결제 대기', PROCESSING: '처리 중', PAID: '결제 완료', FAILED: '실패', EXPIRED: '만료' },
  en: { CREATED: 'Received', PAYMENT_READY: 'Waiting for payment', PROCESSING: 'Processing', PAID: 'Paid', FAILED: 'Failed', EXPIRED: 'Expired' },
};
const REASON = {
  ko: {
    insufficient_stock: '결제하는 사이에 재고가 떨어졌습니다. 돈은 빠져나가지 않았습니다.',
    payment_declined: '카카오페이가 결제를 거절했습니다.',
    payment_cancelled: '결제를 취소했습니다.',
    payment_failed: '결제에 실패했습니다.',
    payment_unavailable: '카카오페이에 연결할 수 없었습니다. 돈은 빠져나가지 않았습니다.',
    payment_expired: '결제 시간이 지났습니다.',
  },
  en: {
    insufficient_stock: 'The stock ran out while you paid. No money was taken.',
    payment_declined: 'Kakao Pay declined the payment.',
    payment_cancelled: 'You cancelled the payment.',
    payment_failed: 'The payment failed.',
    payment_unavailable: 'Kakao Pay could not be reached. No money was taken.',
    payment_expired: 'The time to pay ran out.',
  },
};
const LOT_STATE = {
  ko: { REGULAR: '일반', CLOSING_SOON: '마감 임박', EXPIRED: '만료' },
  en: { REGULAR: 'Regular', CLOSING_SOON: 'Closing soon', EXPIRED: 'Expired' },
};
const CATEGORY = {
  ko: { Vegetables: '채소', Fruit: '과일', Meat: '정육·계란', Seafood: '수산', Dairy: '유제품', Bakery: '베이커리', Deli: '반찬·간편식' },
  en: { Vegetables: 'Vegetables', Fruit: 'Fruit', Meat: 'Meat & eggs', Seafood: 'Seafood', Dairy: 'Dairy', Bakery: 'Bakery', Deli: 'Deli' },
};

export const t = (k) => TEXT[state.lang][k] || k;
export const statusText = (s) => STATUS[state.lang][s] || s;
export const reasonText = (r) => (r ? REASON[state.lang][r] || r : '');
export const lotStateText = (s) => LOT_STATE[state.lang][s] || s;
export const categoryText = (c) => CATEGORY[state.lang][c] || c;

const hangul = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/;

// localName picks the part of a bilingual name ("송파 센터 Songpa",
// "서울 동남 Seoul Southeast") in the chosen language; a name in one
// language only is kept whole.
export function localName(s) {
  if (!s) return '';
  const words = s.split(/\s+/);
  const ko = words.filter((w) => hangul.test(w)), other = words.filter((w) => !hangul.test(w));
  if (!ko.length || !other.length) return s;
  // Keep the bracketed area of "잠실동 Jamsil-dong (Songpa)" in English.
  return (state.lang === 'ko' ? ko : other).join(' ');
}

// productName is a product's name in the chosen language.
export const productName = (p) => (!p ? '' : state.lang === 'ko' ? p.name : (p.name_en || p.name));

// name wraps a proper name (a product, place, person or identifier) so it
// is never translated, by the language switch or by the browser.
export const nameEl = (text, cls = '') => el('span', { translate: 'no', class: cls || undefined }, text);

export function setLang(lang) {
  state.lang = lang;
  localStorage.setItem('shelflife.lang', lang);
  document.documentElement.lang = lang;
  document.querySelectorAll('[data-t]').forEach((e) => { e.textContent = t(e.dataset.t); });
  document.querySelectorAll('[data-t-label]').forEach((e) => { e.setAttribute('aria-label', t(e.dataset.tLabel)); });
  document.querySelectorAll('[data-t-placeholder]').forEach((e) => { e.setAttribute('placeholder', t(e.dataset.tPlaceholder)); });
  // The switch names the other language in that language.
  const other = lang === 'ko' ? 'en' : 'ko';
  const btn = document.getElementById('lang');
  if (btn) {
    btn.textContent = TEXT[other][other];
    btn.setAttribute('lang', other);
  }
}

export function setToken(tok) {
  state.token = tok || '';
  if (tok) localStorage.setItem('shelflife.token', tok); else localStorage.removeItem('shelflife.token');
}

export class APIError extends Error {
  constructor(status, code, message, detail = {}) { super(message); this.status = status; this.code = code; this.detail = detail; }
}

async function request(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.token) headers['Authorization'] = 'Bearer ' + state.token;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new APIError(res.status, e.code || 'http_' + res.status, e.message || res.statusText, e);
  }
  return { data, res };
}

export const api = async (method, path, body) => (await request(method, path, body)).data;

// apiPage gets one page of a listing and the listing's length, which the
// server gives in X-Total-Count.
export async function apiPage(path) {
  const { data, res } = await request('GET', path);
  const total = Number(res.headers.get('X-Total-Count'));
  return { items: data, total: Number.isFinite(total) && res.headers.has('X-Total-Count') ? total : data.length };
}

const locale = () => (state.lang === 'ko' ? 'ko-KR' : 'en-GB');

export const won = (n) => (state.lang === 'ko'
  ? new Intl.NumberFormat('ko-KR').format(n) + '원'
  : new Intl.NumberFormat('en-US', { style: 'currency', currency: 'KRW' }).format(n));

export const num = (n) => new Intl.NumberFormat(locale()).format(n);

// units says "26개" or "26 units"; left says "26개 남음" or "26 left".
export const units = (n) => (state.lang === 'ko' ? `${num(n)}개` : `${num(n)} ${n === 1 ? 'unit' : 'units'}`);
export const left = (n) => (state.lang === 'ko' ? `${num(n)}개 남음` : `${num(n)} left`);

// inDeals, endsAt and timeLeft are phrases whose word order differs.
export const inDeals = (n) => (state.lang === 'ko' ? `특가 ${num(n)}개 포함` : `${num(n)} in deals`);
export const endsAt = (iso) => (state.lang === 'ko' ? `${dateTime(iso)} 마감` : `ends ${dateTime(iso)}`);
export const timeLeft = (ms) => (state.lang === 'ko' ? `${duration(ms)} 남음` : `${duration(ms)} left`);

export const fromWarehouse = (nameNode) => (state.lang === 'ko' ? [nameNode, '에서 출고'] : ['from ', nameNode]);

export const dateTime = (iso) => new Intl.DateTimeFormat(locale(), { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
export const timeOnly = (iso) => new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
export const dayLabel = (d) => new Intl.DateTimeFormat(locale(), { month: 'numeric', day: 'numeric' }).format(d);

// duration reads a span of milliseconds as "3:05:09".
export function duration(ms) {
  if (ms <= 0) return '0:00:00';
  const h = Math.floor(ms / 3600e3), m = Math.floor(ms / 60e3) % 60, s = Math.floor(ms / 1e3) % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) e.append(c.nodeType ? c : String(c));
  return e;
}

export function toast(msg) {
  const box = document.getElementById('toast');
  box.textContent = msg;
  box.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.classList.remove('show'); }, 3000);
}

// socket keeps a WebSocket open, reconnecting after a drop; onState hears
// 'open' and 'closed'.
export function socket(path, onMessage, onState = () => {}) {
  let ws, closed = false;
  const open = () => {
    const url = new URL(path, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(url);
    ws.onopen = () => onState('open');
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = () => { onState('closed'); if (!closed) setTimeout(open, 1500); };
  };
  open();
  return () => { closed = true; ws.close(); };
}
