/**
 * "A salesperson edits": a small page at `/` to change a customer or a sales order by hand. Saving posts to
 * `/__emulator/edit`, which writes like the CRM's own form and sends the change push — the fastest way to
 * watch a change travel to the ERP. Forms are built from the objects' describes, so custom fields show up.
 * All record text is inserted with `textContent`/`value` (never as HTML).
 */
export const EDIT_PAGE_HTML = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>纷享销客模拟器 · Fxiaoke emulator</title>
<style>
body{font:14px/1.5 system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;max-width:1100px;padding:16px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f7fa}tr.sel td{background:#fff8e1}button{cursor:pointer;margin:2px}
form{background:#fafafa;border:1px solid #ddd;padding:8px 12px;margin-top:8px}
label{display:inline-block;min-width:280px;margin:4px 12px 4px 0}label span{display:inline-block;min-width:120px;color:#555}
input,select{padding:2px 4px}#msg{position:sticky;top:0;padding:6px 8px;margin:8px 0;display:none}
#msg.ok{display:block;background:#e8f5e9;border:1px solid #a5d6a7}#msg.err{display:block;background:#ffebee;border:1px solid #ef9a9a}
small{color:#777}
</style>
</head>
<body>
<h1>纷享销客模拟器 · Fxiaoke emulator</h1>
<small>修改客户或订单并保存，模拟“销售人员在 CRM 中编辑”，并向回调地址发送变更推送。Edit a customer or an order as a salesperson would; saving sends the change push.
<span id="info"></span></small>
<div id="msg"></div>
<h2>客户 · Customers <button id="newAccount">新建客户 / New customer</button></h2>
<table id="accounts"></table><div id="accountForm"></div>
<h2>销售订单 · Sales orders <button id="newOrder">新建订单 / New order</button></h2>
<table id="orders"></table><div id="orderForm"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, props, ...children) => {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
};
const DAY = 86400000, GMT8 = 8 * 3600000;
const toDate = (ms) => (typeof ms === 'number' ? new Date(ms + GMT8).toISOString().slice(0, 10) : '');
const fromDate = (s) => (s ? Date.parse(s + 'T00:00:00Z') - GMT8 : null);
let describes = {};
async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json();
  if (!res.ok) throw new Error(json.errorDescription || json.error || res.statusText);
  return json;
}
function say(text, ok) { const m = $('msg'); m.textContent = text; m.className = ok ? 'ok' : 'err'; }
function optionLabel(describe, field, value) {
  const f = describe.fields[field];
  const o = f && f.options ? f.options.find((x) => x.value === value) : undefined;
  return o ? o.label : value ?? '';
}
function inputFor(f, value, records) {
  if (f.type === 'select_one') {
    const s = el('select', { name: f.api_name });
    s.append(el('option', { value: '' }, '—'));
    for (const o of f.options) s.append(el('option', { value: o.value, selected: o.value === value }, o.label));
    return s;
  }
  if (f.type === 'true_or_false') return el('input', { type: 'checkbox', name: f.api_name, checked: value === true });
  if (f.type === 'date') return el('input', { type: 'date', name: f.api_name, value: toDate(value) });
  if (f.type === 'object_reference') {
    const s = el('select', { name: f.api_name });
    s.append(el('option', { value: '' }, '—'));
    for (const r of records[f.target_api_name] || []) s.append(el('option', { value: r._id, selected: r._id === value }, r.name));
    return s;
  }
  const type = ['number', 'currency', 'percentile'].includes(f.type) ? 'number' : 'text';
  return el('input', { type, step: 'any', name: f.api_name, value: value ?? '' });
}
function readInput(f, node) {
  if (f.type === 'true_or_false') return node.checked;
  if (f.type === 'date') return fromDate(node.value);
  return node.value === '' ? null : node.value;
}
const editable = (describe) => Object.values(describe.fields).filter((f) => !f.is_readonly && f.define_type !== 'system' && f.type !== 'master_detail');
function fieldForm(describe, record, records) {
  const box = el('div');
  for (const f of editable(describe)) {
    const input = inputFor(f, record[f.api_name], records);
    input.dataset.field = f.api_name;
    box.append(el('label', {}, el('span', {}, f.label + (f.is_required ? ' *' : '')), input));
  }
  return box;
}
function collect(describe, box) {
  const fields = {};
  for (const node of box.querySelectorAll('[data-field]')) fields[node.dataset.field] = readInput(describe.fields[node.dataset.field], node);
  return fields;
}
async function load() {
  const objects = (await api('GET', '/__emulator/objects')).objects;
  describes = Object.fromEntries(objects.map((o) => [o.api_name, o]));
  const [accounts, orders, lines, products] = await Promise.all(
    ['AccountObj', 'SalesOrderObj', 'SalesOrderProductObj', 'ProductObj'].map((n) => api('GET', '/__emulator/records/' + n)),
  );
  const live = (rows) => rows.filter((r) => r.is_deleted !== true);
  const records = { AccountObj: live(accounts), ProductObj: live(products), SalesOrderObj: live(orders) };
  const cb = await api('GET', '/__emulator/callbacks');
  $('info').textContent = ' · 推送地址 callbacks: ' + (cb.urls.length ? cb.urls.join(', ') : '（未配置 none）');
  renderAccounts(records);
  renderOrders(records, live(lines));
}
function renderAccounts(records) {
  const d = describes.AccountObj, t = $('accounts');
  t.replaceChildren(el('tr', {}, ...['客户名称', '客户编号', '级别', '电话', 'ERP客户编码', 'version', ''].map((h) => el('th', {}, h))));
  for (const r of records.AccountObj) {
    t.append(el('tr', {}, el('td', {}, r.name), el('td', {}, r.account_no ?? ''), el('td', {}, optionLabel(d, 'account_level', r.account_level)),
      el('td', {}, r.tel ?? ''), el('td', {}, r.field_erp_no__c ?? ''), el('td', {}, r.version),
      el('td', {}, el('button', { onclick: () => accountForm(records, r) }, '编辑 / Edit'))));
  }
}
function accountForm(records, record) {
  const d = describes.AccountObj, box = fieldForm(d, record, records);
  const form = el('form', {}, el('b', {}, record._id ? '编辑客户 ' + record.name : '新建客户'), box,
    el('button', { type: 'submit' }, '保存 / Save'), el('button', { type: 'button', onclick: () => $('accountForm').replaceChildren() }, '取消 / Cancel'));
  form.onsubmit = async (e) => {
    e.preventDefault();
    try {
      const r = await api('POST', '/__emulator/edit', { apiName: 'AccountObj', id: record._id, fields: collect(d, box) });
      say('已保存 / saved: AccountObj ' + r.dataId, true); $('accountForm').replaceChildren(); await load();
    } catch (err) { say(err.message, false); }
  };
  $('accountForm').replaceChildren(form);
}
function renderOrders(records, lines) {
  const d = describes.SalesOrderObj, t = $('orders');
  t.replaceChildren(el('tr', {}, ...['订单编号', '客户', '金额', '申请发货', '发货状态', 'ERP订单号', 'version', ''].map((h) => el('th', {}, h))));
  const accountName = (id) => (records.AccountObj.find((a) => a._id === id) || {}).name || id;
  for (const r of records.SalesOrderObj) {
    t.append(el('tr', {}, el('td', {}, r.name), el('td', {}, accountName(r.account_id)), el('td', {}, r.order_amount ?? ''),
      el('td', {}, r.field_ship_request__c ? '是' : '否'), el('td', {}, optionLabel(d, 'field_delivery_status__c', r.field_delivery_status__c)),
      el('td', {}, r.field_erp_bill_no__c ?? ''), el('td', {}, r.version),
      el('td', {}, el('button', { onclick: () => orderForm(records, r, lines.filter((l) => l.order_id === r._id)) }, '编辑 / Edit'))));
  }
}
function orderForm(records, record, lines) {
  const d = describes.SalesOrderObj, ld = describes.SalesOrderProductObj, box = fieldForm(d, record, records);
  const lineFields = ['product_id', 'quantity', 'sales_price', 'discount'].map((n) => ld.fields[n]);
  const table = el('table', {}, el('tr', {}, ...lineFields.map((f) => el('th', {}, f.label)), el('th', {}, '')));
  const addLine = (line) => {
    const row = el('tr');
    row.dataset.id = line._id || '';
    for (const f of lineFields) { const input = inputFor(f, line[f.api_name], records); input.dataset.field = f.api_name; row.append(el('td', {}, input)); }
    row.append(el('td', {}, el('button', { type: 'button', onclick: () => row.remove() }, '删除 / Remove')));
    table.append(row);
  };
  lines.forEach(addLine);
  const form = el('form', {}, el('b', {}, record._id ? '编辑订单 ' + record.name : '新建订单'), box, el('div', {}, '订单产品 / Lines'), table,
    el('button', { type: 'button', onclick: () => addLine({ discount: '100' }) }, '添加产品 / Add line'), el('br'),
    el('button', { type: 'submit' }, '保存 / Save'), el('button', { type: 'button', onclick: () => $('orderForm').replaceChildren() }, '取消 / Cancel'));
  form.onsubmit = async (e) => {
    e.preventDefault();
    const rows = [...table.querySelectorAll('tr[data-id]')].map((row) => {
      const fields = collect(ld, row);
      if (row.dataset.id) fields._id = row.dataset.id;
      return fields;
    });
    try {
      const r = await api('POST', '/__emulator/edit', { apiName: 'SalesOrderObj', id: record._id, fields: collect(d, box), details: { SalesOrderProductObj: rows } });
      say('已保存 / saved: SalesOrderObj ' + r.dataId, true); $('orderForm').replaceChildren(); await load();
    } catch (err) { say(err.message, false); }
  };
  $('orderForm').replaceChildren(form);
}
$('newAccount').onclick = () => api('GET', '/__emulator/records/AccountObj').then((a) => accountForm({ AccountObj: a }, {}));
$('newOrder').onclick = async () => {
  const [a, p] = await Promise.all(['AccountObj', 'ProductObj'].map((n) => api('GET', '/__emulator/records/' + n)));
  orderForm({ AccountObj: a.filter((r) => !r.is_deleted), ProductObj: p.filter((r) => !r.is_deleted) }, {}, []);
};
load().catch((err) => say(err.message, false));
</script>
</body>
</html>
`;
