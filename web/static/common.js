// Shared by the storefront and the admin dashboard: the API, the session,
// Korean/English text.

export const state = {
  token: localStorage.getItem('shelflife.token') || '',
  lang: localStorage.getItem('shelflife.lang') || (navigator.language.startsWith('ko') ? 'ko' : 'en'),
};

const TEXT = {
  ko: {
    signin: '로그인', signup: '회원가입', signout: '로그아웃', email: '이메일', password: '비밀번호', name: '이름',
    address: '배송지', products: '상품', deals: '마감 임박 특가', cart: '장바구니', checkout: '결제하기',
    add: '담기', available: '남은 수량', soldout: '품절', search: '검색', category: '분류', all: '전체',
    myorders: '주문 내역', order: '주문', status: '상태', total: '합계', empty: '비어 있음', expiresIn: '마감까지',
    setAddress: '배송지 설정', noWarehouse: '이 주소로 배송하는 창고가 없습니다', off: '할인',
    stock: '실시간 재고', warehouse: '창고', product: '상품', lot: '로트', onHand: '재고', state: '상태',
    expiring: '곧 마감되는 로트', waste: '폐기 보고서', receive: '입고', quantity: '수량', expiresAt: '유통기한',
    orders: '주문', stuck: '멈춘 사가', chart: '분당 판매량', region: '지역', value: '금액', refresh: '새로고침',
  },
  en: {
    signin: 'Sign in', signup: 'Sign up', signout: 'Sign out', email: 'Email', password: 'Password', name: 'Name',
    address: 'Delivery address', products: 'Products', deals: 'Closing soon', cart: 'Cart', checkout: 'Pay with Kakao Pay',
    add: 'Add', available: 'left', soldout: 'Sold out', search: 'Search', category: 'Category', all: 'All',
    myorders: 'My orders', order: 'Order', status: 'Status', total: 'Total', empty: 'Empty', expiresIn: 'ends in',
    setAddress: 'Set address', noWarehouse: 'No warehouse delivers to this address', off: 'off',
    stock: 'Live stock', warehouse: 'Warehouse', product: 'Product', lot: 'Lot', onHand: 'On hand', state: 'State',
    expiring: 'Lots expiring soon', waste: 'Waste report', receive: 'Receive a lot', quantity: 'Quantity', expiresAt: 'Expires at',
    orders: 'Orders', stuck: 'Stuck sagas', chart: 'Units sold per minute', region: 'Region', value: 'Value', refresh: 'Refresh',
  },
};

export const t = (k) => TEXT[state.lang][k] || k;

export function setLang(lang) {
  state.lang = lang;
  localStorage.setItem('shelflife.lang', lang);
  document.documentElement.lang = lang;
  document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
}

export function setToken(tok) {
  state.token = tok || '';
  if (tok) localStorage.setItem('shelflife.token', tok); else localStorage.removeItem('shelflife.token');
}

export class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.token) headers['Authorization'] = 'Bearer ' + state.token;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new APIError(res.status, e.code || 'http_' + res.status, e.message || res.statusText);
  }
  return data;
}

export const won = (n) => new Intl.NumberFormat(state.lang === 'ko' ? 'ko-KR' : 'en-US').format(n) + (state.lang === 'ko' ? '원' : ' KRW');

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c.nodeType ? c : String(c));
  return e;
}

export function toast(msg) {
  const box = document.getElementById('toast');
  box.textContent = msg;
  box.style.display = 'block';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.style.display = 'none'; }, 4000);
}

// socket keeps a WebSocket open, reconnecting after a drop.
export function socket(path, onMessage) {
  let ws, closed = false;
  const open = () => {
    const url = new URL(path, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(url);
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = () => { if (!closed) setTimeout(open, 1500); };
  };
  open();
  return () => { closed = true; ws.close(); };
}
