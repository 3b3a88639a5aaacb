// The live dashboard in headless Chromium against a real proxy under load: it renders, its numbers move, a backend held down and a state change show up.
// It must never fetch anything but the proxy's own admin port, and its load loop is bounded in requests and time.

import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { startDynoproxy, defaultPool } from '../helpers/dynoproxy.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { freePort } from '../helpers/free-port.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { waitFor } from '../helpers/wait-for.ts'

const CHROMIUM = '/usr/bin/chromium'
if (!existsSync(CHROMIUM)) {
  t.test('dashboard in headless Chromium', { skip: `${CHROMIUM} is not installed (apt-get install -y chromium)` }, () => {})
} else {
  const backends = await Promise.all([startRedis(t), startRedis(t)])
  const [port, admin] = await Promise.all([freePort(), freePort()])
  await startDynoproxy(t, { config: { dash: { ...defaultPool(port, backends), stats_listen: `127.0.0.1:${admin}`, rack: 'r7', datacenter: 'east' } }, workers: 2 })
  await waitFor(async () => (await fetch(`http://127.0.0.1:${admin}/ping`)).ok, 5000, 'admin API')
  const down = `127.0.0.1:${backends[0].port}`

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  const external: string[] = []
  page.on('request', (r) => {
    if (!r.url().startsWith(`http://127.0.0.1:${admin}/`)) external.push(r.url())
  })

  t.test('the page renders the node from the push stream', async (t) => {
    await page.goto(`http://127.0.0.1:${admin}/dashboard`)
    // Waits are selectors: page-side functions would need DOM types, and string predicates are blocked by the page's CSP (no eval).
    await page.waitForSelector('#node-state[data-state="NORMAL"]', { timeout: 5000 })
    t.equal(await page.textContent('#node-state'), 'NORMAL')
    t.match(await page.textContent('#tree'), /datacenter east › rack r7 › node 127\.0\.0\.1:\d+/)
    t.equal(await page.locator('[data-pool="dash"] .servers tbody tr').count(), 2, 'one row per backend')
    t.equal(await page.getAttribute(`tr[data-server="${down}"]`, 'data-state'), 'up')
  })

  t.test('the numbers move under load', async (t) => {
    const c = await RespConnection.connect(port, { t })
    const batch = Array.from({ length: 50 }, (_, i) => ['SET', `dash:${i}`, 'v'])
    let sent = 0
    let moving = false
    const until = Date.now() + 8000
    // Bounded: at most 8 s and 400 batches of 50 requests, stopping as soon as the page shows traffic.
    const load = (async () => {
      while (!moving && Date.now() < until && sent < 400) {
        await c.pipeline(batch)
        sent++
      }
    })()
    await page.waitForSelector('[data-pool="dash"] .ops:not(:text-is("0"))', { timeout: 8000 })
    moving = true
    await load
    c.destroy()
    const ops = await page.textContent('[data-pool="dash"] .ops')
    t.not(ops, '0', `ops/s shown: ${ops}`)
    t.notMatch(await page.textContent('[data-pool="dash"] .p99'), /^0 µs$/, 'p99 latency shown')
    t.ok((await page.locator('[data-pool="dash"] .chart-ops polyline').count()) >= 1, 'the ops chart is drawn')
  })

  t.test('a backend held down and a node state change show up without a reload', async (t) => {
    const updates = Number(await page.getAttribute('body', 'data-updates'))
    t.equal(await (await fetch(`http://127.0.0.1:${admin}/peer/down/${down}`, { method: 'POST' })).text(), 'OK\r\n')
    await page.waitForSelector(`tr[data-server="${down}"][data-state="down"]`, { timeout: 5000 })
    t.equal(await page.textContent(`tr[data-server="${down}"] .st`), 'down')
    t.equal(await (await fetch(`http://127.0.0.1:${admin}/state/standby`, { method: 'POST' })).text(), 'OK\r\n')
    await page.waitForSelector('#node-state[data-state="STANDBY"]', { timeout: 5000 })
    t.ok(Number(await page.getAttribute('body', 'data-updates')) > updates, 'updated in place')
    await page.screenshot({ path: path.join(os.tmpdir(), 'dynoproxy-dashboard.png') })
    await fetch(`http://127.0.0.1:${admin}/state/normal`, { method: 'POST' })
    await fetch(`http://127.0.0.1:${admin}/peer/up/${down}`, { method: 'POST' })
    t.same(external, [], 'no request left the admin port (no CDN)')
  })

  t.test('with admin_read_token, the page reads the stream with the token from its #fragment', async (t) => {
    const [p2, a2] = await Promise.all([freePort(), freePort()])
    await startDynoproxy(t, { config: { dash2: { ...defaultPool(p2, backends), stats_listen: `127.0.0.1:${a2}`, admin_read_token: 'peek-42' } }, workers: 1 })
    await waitFor(async () => (await fetch(`http://127.0.0.1:${a2}/ping`)).ok, 5000, 'admin API')
    t.equal((await fetch(`http://127.0.0.1:${a2}/events`)).status, 401, 'the stream needs the token')
    const p = await browser.newPage()
    t.teardown(() => p.close())
    await p.goto(`http://127.0.0.1:${a2}/dashboard`)
    await p.waitForSelector('#conn:has-text("admin_read_token")', { timeout: 5000 })
    // A fresh page: a change of #fragment alone would not run the page's script again.
    const q = await browser.newPage()
    t.teardown(() => q.close())
    await q.goto(`http://127.0.0.1:${a2}/dashboard#token=peek-42`)
    await q.waitForSelector('#node-state[data-state="NORMAL"]', { timeout: 5000 })
    t.equal(await q.textContent('#conn'), 'live')
    t.equal(new URL(q.url()).hash, '', 'the token is taken out of the address bar')
  })
}
