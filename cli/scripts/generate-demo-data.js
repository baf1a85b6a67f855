#!/usr/bin/env node
// Writes the demo's CSV files into cli/demo-data. Deterministic (seeded PRNG), so
// re-running it reproduces the committed files byte for byte.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const outDir = path.join(__dirname, '..', 'demo-data');

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeRng(seed) {
  const next = mulberry32(seed);
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    float: (lo, hi) => lo + next() * (hi - lo),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    normal: (mean, sd) => {
      const u = Math.max(next(), 1e-12);
      const v = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    chance: (p) => next() < p,
  };
}

// Fixed decimals without "-0.00".
function fixed(x, digits) {
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

function csvCell(v) {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function write(name, header, rows) {
  const text = [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
  fs.writeFileSync(path.join(outDir, name), text);
  console.log(`${name}: ${rows.length} rows, ${header.length} columns, ${text.length} bytes`);
}

function isoDate(start, dayOffset) {
  const d = new Date(Date.UTC(start[0], start[1] - 1, start[2] + dayOffset));
  return d.toISOString().slice(0, 10);
}

function weather() {
  const r = makeRng(1);
  const stations = [
    ['Oslo Blindern', 6, 10],
    ['Lisbon Airport', 17, 5],
    ['Reykjavik Harbour', 5, 6],
    ['Vienna Hohe Warte', 11, 10],
  ];
  const rows = [];
  for (const [name, base, swing] of stations) {
    for (let d = 0; d < 90; d++) {
      // Day 0 is 1 March (day 60 of the year); the yearly curve crosses its mean mid-April.
      const temp = base + swing * Math.sin(((60 + d - 105) / 365) * 2 * Math.PI) + r.normal(0, 2.5);
      const rain = r.chance(0.55) ? 0 : Math.abs(r.normal(3, 4));
      const cond = rain > 5 ? 'heavy rain' : rain > 0 ? r.pick(['light rain', 'showers', 'drizzle']) : r.pick(['clear', 'partly cloudy', 'overcast', 'fog']);
      rows.push([
        name,
        isoDate([2024, 3, 1], d),
        fixed(temp, 1),
        r.int(38, 98),
        r.chance(0.08) ? '' : fixed(rain, 1),
        fixed(Math.abs(r.normal(14, 7)), 1),
        cond,
      ]);
    }
  }
  write('weather_observations.csv', ['station', 'date', 'temp_c', 'humidity_pct', 'precip_mm', 'wind_kph', 'condition'], rows);
}

function sales() {
  const r = makeRng(2);
  const customers = ['Smith, Jones & Co', 'Acme Corp', 'Globex', 'Initech', 'Umbrella, Ltd.', 'Hooli', 'Stark Industries', 'Wayne Enterprises'];
  const products = [
    ['Widget', 4.5],
    ['Gadget', 12.99],
    ['Sprocket', 0.85],
    ['Gizmo', 24.0],
    ['Doohickey', 7.25],
  ];
  const rows = [];
  for (let i = 0; i < 400; i++) {
    const [product, price] = r.pick(products);
    const qty = r.int(1, 120);
    const discount = r.pick([0, 0, 0, 5, 10, 15]);
    rows.push([
      10001 + i,
      isoDate([2024, 1, 2], Math.floor(i / 4)),
      r.pick(['North', 'South', 'East', 'West']),
      r.pick(customers),
      product,
      qty,
      fixed(price, 2),
      discount,
      fixed(qty * price * (1 - discount / 100), 2),
    ]);
  }
  write('sales_orders.csv', ['order_id', 'order_date', 'region', 'customer', 'product', 'quantity', 'unit_price', 'discount_pct', 'total'], rows);
}

function employees() {
  const r = makeRng(3);
  const first = ['Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances', 'John', 'Radia', 'Edsger'];
  const last = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen', 'Backus', 'Perlman', 'Dijkstra'];
  const depts = [
    ['Engineering', 98000],
    ['Sales', 72000],
    ['Support', 54000],
    ['Finance', 81000],
    ['Research', 105000],
  ];
  const rows = [];
  for (let i = 0; i < 250; i++) {
    const [dept, base] = r.pick(depts);
    rows.push([
      `E${String(1000 + i)}`,
      `${r.pick(last)}, ${r.pick(first)}`,
      dept,
      r.pick(['Associate', 'Senior', 'Lead', 'Principal']),
      Math.round(base + r.normal(0, 12000)),
      r.chance(0.04) ? '' : r.int(22, 64),
      r.int(0, 25),
      r.pick(['yes', 'no', 'hybrid']),
    ]);
  }
  write('employees.csv', ['employee_id', 'full_name', 'department', 'title', 'salary', 'age', 'years_at_company', 'remote'], rows);
}

function taxi() {
  const r = makeRng(4);
  const zones = ['Midtown', 'Harlem', 'SoHo', 'Astoria', 'Williamsburg', 'JFK Airport', 'Financial District', 'Upper West Side'];
  const rows = [];
  for (let i = 0; i < 500; i++) {
    const dist = Math.max(0.3, Math.abs(r.normal(5.5, 4)));
    const dur = Math.max(2, dist * r.float(2.2, 4.5));
    const fare = 3 + dist * 1.75 + dur * 0.35;
    const card = r.chance(0.7);
    rows.push([
      i + 1,
      r.pick(zones),
      r.pick(zones),
      fixed(dist, 2),
      fixed(dur, 1),
      fixed(fare, 2),
      card ? fixed(fare * r.pick([0, 0.1, 0.15, 0.2]), 2) : '0.00',
      r.pick([1, 1, 1, 1, 2, 2, 3, 4]),
      card ? 'card' : 'cash',
    ]);
  }
  write('taxi_trips.csv', ['trip_id', 'pickup_zone', 'dropoff_zone', 'distance_km', 'duration_min', 'fare', 'tip', 'passengers', 'payment'], rows);
}

function stocks() {
  const r = makeRng(5);
  const tickers = [
    ['ACME', 120],
    ['GLBX', 45],
    ['INTC', 33],
    ['HOOL', 310],
    ['UMBR', 78],
  ];
  const rows = [];
  for (const [ticker, start] of tickers) {
    let price = start;
    for (let d = 0; d < 60; d++) {
      const open = price;
      const close = Math.max(1, open * (1 + r.normal(0.0005, 0.018)));
      const high = Math.max(open, close) * (1 + Math.abs(r.normal(0, 0.006)));
      const low = Math.min(open, close) * (1 - Math.abs(r.normal(0, 0.006)));
      rows.push([isoDate([2024, 6, 3], d), ticker, fixed(open, 2), fixed(high, 2), fixed(low, 2), fixed(close, 2), r.int(200000, 9000000)]);
      price = close;
    }
  }
  write('stock_prices.csv', ['date', 'ticker', 'open', 'high', 'low', 'close', 'volume'], rows);
}

function books() {
  const r = makeRng(6);
  const adjectives = ['Silent', 'Crimson', 'Hidden', 'Last', 'Distant', 'Broken', 'Golden', 'Quiet'];
  const nouns = ['River', 'Garden', 'Archive', 'Lighthouse', 'Compiler', 'Orchard', 'Signal', 'Harbor'];
  const authors = ['M. Okafor', 'L. Chen', 'S. Ivanova', 'R. Haddad', 'J. Moreau', 'K. Tanaka', 'A. Silva'];
  const rows = [];
  for (let i = 0; i < 220; i++) {
    let title = `The ${r.pick(adjectives)} ${r.pick(nouns)}`;
    if (r.chance(0.2)) title += `, Volume ${r.int(1, 4)}`;
    if (r.chance(0.05)) title = `"${title}": A Novel`;
    rows.push([
      `978-${r.int(0, 9)}-${r.int(1000, 9999)}-${r.int(1000, 9999)}-${r.int(0, 9)}`,
      title,
      r.pick(authors),
      r.int(1962, 2024),
      r.int(96, 880),
      fixed(Math.min(5, Math.max(1, r.normal(3.9, 0.6))), 1),
      fixed(r.float(6.99, 39.99), 2),
    ]);
  }
  write('book_catalog.csv', ['isbn', 'title', 'author', 'year', 'pages', 'rating', 'price'], rows);
}

function airQuality() {
  const r = makeRng(7);
  const cities = [
    ['Delhi', 95],
    ['Paris', 14],
    ['Mexico City', 22],
    ['Cairo', 48],
    ['Sydney', 8],
    ['Warsaw', 19],
  ];
  const rows = [];
  for (const [city, base] of cities) {
    for (let d = 0; d < 50; d++) {
      const pm25 = Math.max(1, r.normal(base, base * 0.3));
      rows.push([
        city,
        isoDate([2024, 11, 1], d),
        fixed(pm25, 1),
        r.chance(0.06) ? '' : fixed(pm25 * r.float(1.4, 2.1), 1),
        r.chance(0.06) ? '' : fixed(Math.abs(r.normal(28, 12)), 1),
        fixed(Math.abs(r.normal(40, 15)), 1),
        Math.round(Math.min(500, pm25 * 2.1 + 12)),
      ]);
    }
  }
  write('air_quality.csv', ['city', 'date', 'pm25', 'pm10', 'no2', 'o3', 'aqi'], rows);
}

function requests() {
  const r = makeRng(8);
  const endpoints = ['/api/jobs', '/api/jobs/{id}', '/api/results', '/healthz', '/api/workers', '/login'];
  const agents = [
    'curl/8.4.0',
    'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    'python-requests/2.32.3',
    'Go-http-client/2.0',
  ];
  const rows = [];
  const t0 = Date.UTC(2024, 10, 25, 8, 0, 0);
  let t = t0;
  for (let i = 0; i < 450; i++) {
    t += r.int(50, 20000);
    const endpoint = r.pick(endpoints);
    const status = r.chance(0.9) ? 200 : r.pick([201, 204, 400, 401, 404, 500, 503]);
    rows.push([
      new Date(t).toISOString(),
      endpoint,
      endpoint === '/login' || endpoint === '/api/jobs' ? r.pick(['GET', 'POST']) : 'GET',
      status,
      fixed(Math.abs(r.normal(endpoint === '/healthz' ? 2 : 85, endpoint === '/healthz' ? 1 : 60)), 3),
      status === 204 ? 0 : r.int(120, 250000),
      r.pick(agents),
    ]);
  }
  write('server_requests.csv', ['timestamp', 'endpoint', 'method', 'status', 'latency_ms', 'bytes_sent', 'user_agent'], rows);
}

fs.mkdirSync(outDir, { recursive: true });
weather();
sales();
employees();
taxi();
stocks();
books();
airQuality();
requests();
